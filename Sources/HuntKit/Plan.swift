import BisectEngine
import Foundation
import GitKit
import History

/// What a hunt would do with a request, worked out as the hunt works it out but without
/// deploying, leasing or creating anything: `bisect-deploy plan`. The request is the hunt's
/// own (the configuration file, then the flags); the range, the environments used at once and
/// the estimate follow `HuntSetup.prepare` and the hunt's first line.
package struct HuntPlan {
  /// The request's configuration; `descend` runs its first stage along first parents, as
  /// the hunt's does.
  package let configuration: Configuration
  package let repository: Repository
  package let goods: [ObjectID]
  /// The range the first stage searches.
  package let graph: CommitGraph
  package let bisection: Bisection
  /// The environments deployed to: those named, or the pool's.
  package let environments: [DeployEnvironment]
  /// Steps run at once: one per named environment, or up to `parallel` of a pool (when that
  /// many are free).
  package let width: Int
  /// The estimate the hunt announces.
  package let estimate: HuntEstimate
  /// The commits of the search's first round (after the endpoint checks); empty when the
  /// range concludes without a test.
  package let firstRound: [ObjectID]
  /// What the range concludes without a test (an empty range, a single candidate...).
  package let conclusion: Conclusion?

  /// Resolves the request's range and environments: the errors are the hunt's (an unknown
  /// revision, an unknown environment, settings that cannot be combined).
  package init(_ request: HuntRequest) throws(HuntError) {
    var configuration = request.configuration
    // The first stage of a descent runs along the first-parent line (`HuntSetup.prepare`).
    if configuration.descend { configuration.firstParent = true }
    if let conflict = configuration.conflict { throw .configuration(conflict) }
    let environments: [DeployEnvironment]
    do {
      environments = try configuration.environmentsInUse()
    } catch {
      throw .configuration(error)
    }
    let width =
      configuration.environmentPool.isEmpty
      ? environments.count : max(1, min(configuration.parallel, environments.count))
    let repository: Repository
    var goods = [ObjectID]()
    let graph: CommitGraph
    let bisection: Bisection
    do {
      repository = try Repository(at: request.repositoryPath)
      let bad = try repository.resolve(request.bad)
      goods = try resolveGoods(request.goods, in: repository)
      graph = try repository.commitGraph(
        bad: bad, goods: goods, paths: configuration.paths, firstParent: configuration.firstParent)
      bisection = Bisection(graph: graph, mergeBases: try repository.mergeBasesToCheck(in: graph))
    } catch {
      throw .git(error)
    }
    self.configuration = configuration
    self.environments = environments
    self.width = width
    self.repository = repository
    self.goods = goods
    self.graph = graph
    self.bisection = bisection
    estimate = HuntEstimate(
      configuration: configuration, goods: goodsWorthChecking(goods, in: repository).count, bisection: bisection,
      candidates: graph.candidateCount, width: width)
    (firstRound, conclusion) = Self.firstRound(of: bisection, graph: graph, flaky: configuration.flaky, width: width)
  }

  /// The search's first round, as the plain or the probabilistic search picks it
  /// (`HuntSession.bisect`, `HuntSession.probabilisticSearch`), or what the range concludes.
  private static func firstRound(of bisection: Bisection, graph: CommitGraph, flaky: FlakyMode?, width: Int)
    -> ([ObjectID], Conclusion?)
  {
    switch bisection.nextRound(count: width) {
    case .concluded(let end):
      return ([], end)
    case .test(let commits):
      guard let flaky else { return (commits, nil) }
      let engine = FlakyBisection(graph: graph, settings: flaky.settings)
      guard case .test(let commit) = engine.next() else { return (commits, nil) }
      let round = width > 1 ? engine.nextRound(count: width) : []
      return (round.isEmpty ? [commit] : round, nil)
    }
  }
}

extension HuntEstimate {
  /// The estimate a hunt announces before its first step: the endpoint checks (bad, then each
  /// good, unless `verify_endpoints` is off), then the search's rounds of `width` steps, or
  /// with `flaky` its test runs, about `ceil(log2 N)` for `N` candidates.
  package init(configuration: Configuration, goods: Int, bisection: Bisection, candidates: Int, width: Int) {
    let flaky = configuration.flaky != nil
    self.init(
      endpointChecks: configuration.verifyEndpoints ? 1 + goods : 0,
      searchRounds: flaky
        ? Int(ceil(log2(Double(max(2, candidates))))) : bisection.estimatedRounds(parallel: width),
      parallel: flaky ? 1 : width, flaky: flaky)
  }
}
