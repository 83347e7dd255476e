import History

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// How often the smoke test answers wrongly.
public struct NoiseRates: Sendable, Hashable {
  /// P(the test says bad | the commit is truly good); nil to estimate it from the verdicts.
  public var falseBad: Double?
  /// P(the test says good | the commit is truly bad); nil to estimate it from the verdicts.
  public var falseGood: Double?

  public init(falseBad: Double? = nil, falseGood: Double? = nil) {
    self.falseBad = falseBad
    self.falseGood = falseGood
  }
}

/// How a probabilistic bisection weighs answers and when it stops.
public struct FlakySettings: Sendable, Hashable {
  /// The rates of wrong answers, configured or (nil) estimated.
  public var rates: NoiseRates
  /// Conclude once the most probable culprit (or "no regression") has at least this
  /// probability.
  public var confidence: Double
  /// The most test runs (good and bad verdicts, wherever recorded); nil for
  /// `FlakySettings.defaultBudget(candidates:)`.
  public var budget: Int?

  public init(rates: NoiseRates = NoiseRates(), confidence: Double = 0.99, budget: Int? = nil) {
    self.rates = rates
    self.confidence = confidence
    self.budget = budget
  }

  /// The budget used when none is set, for a range of `candidates` possible culprits:
  /// `ceil(30 log2 N) + 60` test runs (359 for N = 1000, 90 for N = 2): a bound on a runaway
  /// search, above what simulation shows for a regression that fails one run in three
  /// (docs/flaky.md). Most runs are tests again where a commit is deployed, not deploys.
  public static func defaultBudget(candidates: Int) -> Int {
    guard candidates > 1 else { return 60 }
    return Int((30 * log2(Double(candidates))).rounded(.up)) + 60
  }
}

/// A commit that may have caused the regression, with the probability that it did.
public struct RankedCulprit: Sendable, Hashable {
  public var commit: ObjectID
  public var probability: Double

  public init(commit: ObjectID, probability: Double) {
    self.commit = commit
    self.probability = probability
  }
}

/// How often the test fails, as a share of its runs, before a culprit and from it on.
public struct FailureRates: Sendable, Hashable {
  /// The share of runs that fail on the commits before the culprit.
  public var before: Double
  /// The share of runs that fail on the culprit and the commits after it.
  public var after: Double

  public init(before: Double, after: Double) {
    self.before = before
    self.after = after
  }
}

/// How a probabilistic bisection ended.
public struct FlakyConclusion: Sendable, Hashable {
  /// Why the search stopped.
  public enum Reason: String, Sendable, Hashable {
    /// The most probable culprit reached the configured confidence.
    case confident
    /// "No regression" reached the configured confidence: bad and good fail as often.
    case noRegression = "no-regression"
    /// The budget of test runs is spent; the culprit is the best guess.
    case budgetSpent = "budget-spent"
    /// Every commit whose test could still tell the candidates apart was skipped (or there is
    /// no candidate at all); the culprit is the best guess.
    case nothingTestable = "nothing-testable"
  }

  /// The most probable culprit.
  public var culprit: RankedCulprit
  /// The second most probable culprit; nil when the range has only one candidate.
  public var runnerUp: RankedCulprit?
  public var reason: Reason
  /// The good and bad verdicts recorded.
  public var testRuns: Int
  /// The probability that there is no regression at all.
  public var noRegression: Double
  /// The failure rates estimated if `culprit` is the culprit.
  public var failureRates: FailureRates
  /// The failure rate estimated for every commit if there is no regression.
  public var sameRate: Double

  public init(
    culprit: RankedCulprit, runnerUp: RankedCulprit?, reason: Reason, testRuns: Int, noRegression: Double = 0,
    failureRates: FailureRates = FailureRates(before: 0, after: 1), sameRate: Double = 0
  ) {
    self.culprit = culprit
    self.runnerUp = runnerUp
    self.reason = reason
    self.testRuns = testRuns
    self.noRegression = noRegression
    self.failureRates = failureRates
    self.sameRate = sameRate
  }
}

/// What to do next in a probabilistic bisection.
public enum FlakyOutcome: Sendable, Hashable {
  /// Deploy and test this commit (it may have been tested before), then record the verdict.
  case test(ObjectID)
  /// Nothing more to test.
  case concluded(FlakyConclusion)
}

/// One test run to do next: of `commit`, in the environment at `environment` (an index into
/// the `deployed` list given to `plan`) where it is deployed already, or deployed anew (nil).
public struct FlakyTest: Sendable, Hashable {
  public var commit: ObjectID
  /// Where `commit` is deployed already and is tested again without deploying; nil: deploy it.
  public var environment: Int?

  public init(commit: ObjectID, environment: Int?) {
    self.commit = commit
    self.environment = environment
  }
}

/// What to do next, counting what each action costs.
public enum FlakyPlan: Sendable, Hashable {
  /// Test these, at the same time (one per environment); record every verdict, then plan again.
  case tests([FlakyTest])
  case concluded(FlakyConclusion)
}

/// A bisection for smoke tests whose answers are evidence, not truth: a Bayesian search over
/// which candidate is the culprit, or whether there is a regression at all. A plain value: no
/// I/O, no randomness, safe to copy and to send across tasks; the same graph, settings and
/// verdicts in the same order (and the same `plan` arguments) give the same answers.
///
/// The model (docs/flaky.md): the culprit is one of the graph's candidates, each equally
/// likely at first, or there is none ("no regression", prior 0.05). A commit is truly bad when
/// the culprit is among its ancestors-or-self. A truly bad commit's run fails with an unknown
/// rate `bad`, a truly good one's with an unknown rate `good`, `bad >= good + 0.1`; with no
/// regression every run fails with one unknown rate. The rates are integrated out over a grid
/// of values (`ChangeModel`), so each candidate is weighed by how well the best-fitting rates
/// explain every answer so far, the endpoints' included; no single answer rules anything out,
/// and a regression that shows in one run of two is a regression like any other.
///
/// The next action is the one that teaches the most per unit of cost (`plan`): a run where a
/// commit is deployed costs a test, a run elsewhere costs a deploy too; a deploy is weighed
/// with the number of runs that pays best there. The search concludes when one candidate, or
/// "no regression", is probable enough, when the budget of test runs is spent, or when nothing
/// left to test can tell the hypotheses apart.
///
/// Each `record` costs O(commits + edges) of the graph plus O(candidates x 33) for the rates;
/// `plan` about the same (one walk of the first-parent chain, plus short walks of the side
/// branches that could hold the best commit).
public struct FlakyBisection: Sendable {
  /// The range searched: `graph.tip` is bad, `graph.boundaries` are good.
  public let graph: CommitGraph
  public let settings: FlakySettings
  /// The most test runs: `settings.budget`, or the default for the range.
  public let budget: Int
  /// Every verdict recorded, in order; replaying them into a new `FlakyBisection` of the same
  /// graph and settings gives the same state.
  public private(set) var verdicts: [RecordedVerdict] = []

  /// The prior probability that there is no regression at all.
  public static let noRegressionPrior = 0.05

  /// Commit numbers of the candidates, ascending (children first).
  private let candidates: [Int]
  private let candidateFlags: CommitSet
  /// Per candidate: bad and good verdicts on its descendants-or-self (those it makes truly bad).
  private var badAbove: [Int32]
  private var goodAbove: [Int32]
  /// All bad and good verdicts, wherever recorded.
  private var badCount = 0
  private var goodCount = 0
  private var skipped: CommitSet
  /// Commits outside the graph whose test skipped: never chosen again.
  private var skippedOutside: Set<ObjectID> = []
  private let model: ChangeModel
  /// Per candidate: the probability that it is the culprit, and its fit.
  private var posterior: [Double]
  private var fits: [CulpritFit]
  /// The probability that there is no regression, and the common rate then.
  private var noRegressionProbability: Double
  private var sameRate: Double
  /// The failure rates averaged over the culprits (weighted by their probabilities).
  private var meanRates: FailureRates
  /// The prior of "no regression" in this range: `noRegressionPrior`, or 0 without a good
  /// boundary, where nothing known good could tell it from "the oldest commit is the culprit".
  private let noneAtFirst: Double

  /// Starts a search of `graph`'s candidates.
  public init(graph: CommitGraph, settings: FlakySettings = FlakySettings()) {
    self.graph = graph
    self.settings = settings
    let flags = CommitSet(flags: graph.isCandidate)
    candidateFlags = flags
    candidates = flags.members
    budget = settings.budget ?? FlakySettings.defaultBudget(candidates: candidates.count)
    badAbove = [Int32](repeating: 0, count: candidates.count)
    goodAbove = [Int32](repeating: 0, count: candidates.count)
    skipped = CommitSet(capacity: graph.count)
    model = ChangeModel(
      good: settings.rates.falseBad, bad: settings.rates.falseGood.map { 1 - $0 })
    posterior = []
    fits = []
    noneAtFirst = graph.boundaries.isEmpty ? 0 : Self.noRegressionPrior
    noRegressionProbability = noneAtFirst
    sameRate = 0
    meanRates = FailureRates(before: 0, after: 1)
    updatePosterior()
  }

  // MARK: Recording verdicts

  /// Records the verdict on `commit`, which may lie outside the graph.
  ///
  /// Good and bad reweigh the hypotheses (outside the graph a commit is truly good, at the
  /// tip truly bad unless there is no regression); skip means `commit` is never chosen again.
  public mutating func record(_ verdict: Verdict, for commit: ObjectID) {
    verdicts.append(RecordedVerdict(commit: commit, verdict: verdict))
    let number = graph.number(of: commit)
    switch verdict {
    case .skip:
      if let number { skipped.insert(number) } else { skippedOutside.insert(commit) }
      return
    case .bad: badCount += 1
    case .good: goodCount += 1
    }
    if let number {
      // Candidates among the ancestors-or-self of `commit` are those that make it truly bad.
      let ancestors = graph.ancestorSet(of: number).intersection(candidateFlags)
      var slot = 0
      for member in ancestors {
        while candidates[slot] < member { slot += 1 }
        if verdict == .bad { badAbove[slot] += 1 } else { goodAbove[slot] += 1 }
      }
    }
    updatePosterior()
  }

  /// Recomputes every hypothesis's probability from the verdict counts: O(candidates).
  private mutating func updatePosterior() {
    let same = model.same.posterior(fails: badCount, passes: goodCount)
    sameRate = same.mean
    guard !candidates.isEmpty else {
      posterior = []
      fits = []
      noRegressionProbability = 1
      return
    }
    // Candidates with the same counts fit alike (on a line, all those between two tested
    // commits): one fit per pair of counts.
    var known = [Int: CulpritFit]()
    fits = candidates.indices.map { slot in
      let bad = Int(badAbove[slot])
      let good = Int(goodAbove[slot])
      let key = bad << 32 | good
      if let fit = known[key] { return fit }
      let fit = model.culprit(
        badFails: bad, badPasses: good, goodFails: badCount - bad, goodPasses: goodCount - good)
      known[key] = fit
      return fit
    }
    let each = log((1 - noneAtFirst) / Double(candidates.count))
    let noneWeight = noneAtFirst > 0 ? log(noneAtFirst) + same.logLikelihood : -Double.infinity
    var largest = -Double.infinity
    for fit in fits { largest = Swift.max(largest, each + fit.logLikelihood) }
    largest = Swift.max(largest, noneWeight)
    // Nothing explains the answers at all (cannot happen with the grids' floors): keep going
    // from what the prior says rather than from NaN.
    if largest == -.infinity { largest = 0 }
    var weights = fits.map { exp(each + $0.logLikelihood - largest) }
    let none = noneWeight == -.infinity ? 0 : exp(noneWeight - largest)
    let sum = weights.reduce(none, +)
    var before = 0.0
    var after = 0.0
    for slot in weights.indices {
      weights[slot] /= sum
      before += weights[slot] * fits[slot].good
      after += weights[slot] * fits[slot].bad
    }
    posterior = weights
    noRegressionProbability = none / sum
    let culprits = 1 - noRegressionProbability
    meanRates =
      culprits > 0
      ? FailureRates(before: before / culprits, after: after / culprits) : FailureRates(before: 0, after: 1)
  }

  // MARK: What next

  /// The next commit to test, or the conclusion, when every run deploys anew.
  public func next() -> FlakyOutcome {
    switch plan(deployed: [nil], costs: .testsOnly) {
    case .concluded(let conclusion): .concluded(conclusion)
    case .tests(let tests): .test(tests[0].commit)
    }
  }

  /// Up to `count` distinct commits to test at once (in several environments), every one
  /// deployed anew, or none when the search has concluded. One commit is `next()`'s choice;
  /// more are those whose ancestor mass lies nearest to `j / (count + 1)` of the mass of the
  /// culprits, `j = 1...count`, so that their answers split it into `count + 1` parts.
  public func nextRound(count: Int) -> [ObjectID] {
    guard
      case .tests(let tests) = plan(
        deployed: [ObjectID?](repeating: nil, count: Swift.max(1, count)), costs: .testsOnly)
    else { return [] }
    return tests.map(\.commit)
  }

  /// What to test next in environments where `deployed` commits are (nil: nothing known), or
  /// the conclusion. Each environment with a commit deployed tests it again when one more run
  /// there teaches at least as much per unit of cost as the best deploy elsewhere (the
  /// marginal-value rule); the others get new commits: with one, the one whose deploy and
  /// best number of runs teaches the most per unit of cost; with more, the quantiles of the
  /// mass (as `nextRound`). Never more tests than environments, nor than the budget has left.
  public func plan(deployed: [ObjectID?], costs: RunCosts) -> FlakyPlan {
    if let conclusion = stoppingConclusion() { return .concluded(conclusion) }
    let width = Swift.min(Swift.max(1, deployed.count), budget - testRuns)
    guard candidates.count > 0 else { return .concluded(conclusion(.nothingTestable)) }
    let choice = Choice(search: self, costs: costs)
    let deployedSet = Set(deployed.compactMap { $0 })
    // The shortlist: the best commit of the range by the channel's estimate, and the
    // endpoints, whose answers teach the rates and whether there is a regression at all.
    var options = [(commit: ObjectID, rate: Double)]()
    if let fresh = choice.bestDeploy(excluding: deployedSet) {
      options.append((fresh.commit, choice.deployValue(of: fresh.commit, mass: fresh.mass)))
    }
    for (commit, mass) in choice.endpoints(excluding: deployedSet) {
      let value = choice.deployValue(of: commit, mass: mass)
      if value > 0 { options.append((commit, value)) }
    }
    // Ties go to the commit of the range: first found, kept unless strictly beaten.
    var fresh: (commit: ObjectID, rate: Double)?
    for option in options where fresh == nil || option.rate > fresh!.rate * (1 + 1e-9) { fresh = option }
    if let best = fresh, best.rate <= 0 { fresh = nil }
    var tests = [FlakyTest]()
    for (slot, commit) in deployed.enumerated() where tests.count < width {
      guard let commit, !isSkipped(commit), !tests.contains(where: { $0.commit == commit }) else { continue }
      let rate = lookAhead(commit) / costs.test
      guard rate > Self.leastInformation / costs.test else { continue }
      if let fresh, rate < fresh.rate * (1 - 1e-9) { continue }
      tests.append(FlakyTest(commit: commit, environment: slot))
    }
    let open = width - tests.count
    if open == 1 || (open > 1 && deployed.count == 1) {
      if let fresh { tests.append(FlakyTest(commit: fresh.commit, environment: nil)) }
    } else if open > 1 {
      var picks = [ObjectID]()
      // An endpoint that teaches more than the range's best takes one of the places.
      if let fresh, graph.number(of: fresh.commit) == nil || fresh.commit == graph.tip { picks.append(fresh.commit) }
      let quantiles = choice.quantiles(count: open - picks.count, excluding: deployedSet.union(picks))
      picks += quantiles.map { graph.ids[$0] }
      if picks.isEmpty, let fresh { picks.append(fresh.commit) }
      tests += picks.prefix(open).map { FlakyTest(commit: $0, environment: nil) }
    }
    if tests.isEmpty { return .concluded(conclusion(.nothingTestable)) }
    return .tests(tests)
  }

  /// The information, in bits, that one run of `commit` is expected to give about the
  /// hypotheses (which culprit, or none), with the rates integrated out as the search does:
  /// the entropy now less its expectation after the answer, each answer recorded in a copy.
  /// O(candidates) per answer; used on a shortlist only.
  func lookAhead(_ commit: ObjectID) -> Double {
    let before = entropy
    let failing = failureProbability(of: commit)
    var ifBad = self
    ifBad.record(.bad, for: commit)
    var ifGood = self
    ifGood.record(.good, for: commit)
    return Swift.max(0, before - failing * ifBad.entropy - (1 - failing) * ifGood.entropy)
  }

  /// The entropy, in bits, of the hypotheses: the candidates and "no regression".
  private var entropy: Double {
    var sum = 0.0
    for probability in posterior where probability > 0 { sum -= probability * log2(probability) }
    if noRegressionProbability > 0 { sum -= noRegressionProbability * log2(noRegressionProbability) }
    return sum
  }

  /// The probability that the next run of `commit` fails, as the search now believes.
  private func failureProbability(of commit: ObjectID) -> Double {
    var probability = noRegressionProbability * sameRate
    let ancestors =
      graph.number(of: commit).map { graph.ancestorSet(of: $0).intersection(candidateFlags) }
      ?? CommitSet(capacity: graph.count)
    for (slot, number) in candidates.enumerated() {
      probability += posterior[slot] * (ancestors.contains(number) ? fits[slot].bad : fits[slot].good)
    }
    return Swift.min(1, Swift.max(0, probability))
  }

  /// The `count` most probable culprits, most probable first (ties: the younger first).
  public func leaders(_ count: Int) -> [RankedCulprit] {
    let order = candidates.indices.sorted {
      posterior[$0] != posterior[$1] ? posterior[$0] > posterior[$1] : $0 < $1
    }
    return order.prefix(Swift.max(0, count)).map {
      RankedCulprit(commit: graph.ids[candidates[$0]], probability: posterior[$0])
    }
  }

  /// The probability that `commit` is the culprit; 0 for commits that are not candidates.
  public func probability(of commit: ObjectID) -> Double {
    guard let slot = slot(of: commit) else { return 0 }
    return posterior[slot]
  }

  /// The failure rates estimated if `commit` is the culprit (posterior means of the rates).
  public func failureRates(ifCulprit commit: ObjectID) -> FailureRates {
    guard let slot = slot(of: commit) else { return meanRates }
    return FailureRates(before: fits[slot].good, after: fits[slot].bad)
  }

  /// The probability that there is no regression: bad and good fail as often.
  public var noRegression: Double { noRegressionProbability }

  /// The good and bad verdicts recorded, wherever (skips do not count).
  public var testRuns: Int { badCount + goodCount }

  /// The rates of wrong answers in use now: how often a good commit's run fails, and how
  /// often a bad commit's passes (posterior means, averaged over the culprits).
  public var rates: (falseBad: Double, falseGood: Double) { (meanRates.before, 1 - meanRates.after) }

  /// The failure rates averaged over the culprits, weighted by their probabilities.
  public var failureRates: FailureRates { meanRates }

  /// The number of commits that may be the culprit.
  public var candidateCount: Int { candidates.count }

  // MARK: Inside

  private func slot(of commit: ObjectID) -> Int? {
    guard let number = graph.number(of: commit), candidateFlags.contains(number) else { return nil }
    // `candidates` is ascending: find the slot by halving.
    var low = 0
    var high = candidates.count
    while low < high {
      let middle = (low + high) / 2
      if candidates[middle] < number { low = middle + 1 } else { high = middle }
    }
    return low
  }

  private func isSkipped(_ commit: ObjectID) -> Bool {
    if let number = graph.number(of: commit) { return skipped.contains(number) }
    return skippedOutside.contains(commit)
  }

  /// The probability that `commit` is truly bad: the mass of the culprits among its
  /// ancestors-or-self (0 outside the graph, where commits are good).
  private func mass(of commit: ObjectID, in choice: Choice) -> Double {
    guard let number = graph.number(of: commit) else { return 0 }
    var sum = 0.0
    for member in graph.ancestorSet(of: number).intersection(candidateFlags) { sum += choice.weight[member] }
    return sum
  }

  /// The conclusion when confident or out of budget; nil while the search goes on.
  private func stoppingConclusion() -> FlakyConclusion? {
    guard let top = topTwo().first else { return conclusion(.nothingTestable) }
    if posterior[top] >= settings.confidence { return conclusion(.confident) }
    if noRegressionProbability >= settings.confidence { return conclusion(.noRegression) }
    if testRuns >= budget { return conclusion(.budgetSpent) }
    return nil
  }

  private func conclusion(_ reason: FlakyConclusion.Reason) -> FlakyConclusion {
    let top = topTwo()
    func ranked(_ slot: Int) -> RankedCulprit {
      RankedCulprit(commit: graph.ids[candidates[slot]], probability: posterior[slot])
    }
    // No candidate at all (an empty range): the tip, with probability 0.
    let culprit = top.first.map(ranked) ?? RankedCulprit(commit: graph.tip, probability: 0)
    let rates = top.first.map { FailureRates(before: fits[$0].good, after: fits[$0].bad) } ?? meanRates
    return FlakyConclusion(
      culprit: culprit, runnerUp: top.count > 1 ? ranked(top[1]) : nil, reason: reason, testRuns: testRuns,
      noRegression: noRegressionProbability, failureRates: rates, sameRate: sameRate)
  }

  /// The slots of the two most probable candidates (ties: the younger first).
  private func topTwo() -> [Int] {
    var first: Int?
    var second: Int?
    for slot in posterior.indices {
      if first == nil || posterior[slot] > posterior[first!] {
        second = first
        first = slot
      } else if second == nil || posterior[slot] > posterior[second!] {
        second = slot
      }
    }
    return [first, second].compactMap { $0 }
  }

  /// Answers worth less than this many bits are not worth a run.
  static let leastInformation = 1e-9

  /// The ingredients of one choice: the mass index and the channel as now believed.
  private struct Choice {
    let search: FlakyBisection
    let costs: RunCosts
    /// The posterior probability by commit number (0 for commits that may not be blamed).
    let weight: [Double]
    let index: ReachIndex<[Double]>
    let channel: TestChannel

    init(search: FlakyBisection, costs: RunCosts) {
      self.search = search
      self.costs = costs
      var weight = [Double](repeating: 0, count: search.graph.count)
      for (slot, number) in search.candidates.enumerated() { weight[number] = search.posterior[slot] }
      self.weight = weight
      index = ReachIndex(graph: search.graph, weight: weight)
      channel = TestChannel(
        good: search.meanRates.before, bad: search.meanRates.after, same: search.sameRate,
        none: search.noRegressionProbability, costs: costs)
    }

    /// The commit of the range whose deploy (with the runs that pay best there) teaches the
    /// most per unit of cost by the channel's estimate, leaving out `excluded`; nil when none
    /// teaches anything.
    func bestDeploy(excluding excluded: Set<ObjectID>) -> (commit: ObjectID, mass: Double)? {
      let graph = search.graph
      let channel = channel
      var testable = search.candidateFlags.subtracting(search.skipped)
      for commit in excluded { if let number = graph.number(of: commit) { testable.remove(number) } }
      let least = FlakyBisection.leastInformation
      let picks = index.choose(
        goals: [MassGoal(score: { -channel.deployRate($0) }, bestScore: { -channel.bestDeployRate(in: $0) })],
        testable: testable,
        isInformative: { channel.information($0) > least },
        mayBeInformative: { channel.mayInform($0) }, workBudget: Bisection.workBudget(graph.count))
      return picks.first.map { (graph.ids[$0.number], $0.mass) }
    }

    /// The tip (unless it is a testable candidate, chosen as any other) and the first good
    /// boundary, with their masses, leaving out `excluded` and skipped ones.
    func endpoints(excluding excluded: Set<ObjectID>) -> [(commit: ObjectID, mass: Double)] {
      let graph = search.graph
      var found = [(commit: ObjectID, mass: Double)]()
      if let tip = graph.number(of: graph.tip), !search.skipped.contains(tip), !excluded.contains(graph.tip) {
        found.append((graph.tip, index.total))
      }
      if let boundary = graph.boundaries.first(where: { !excluded.contains($0) && !search.skippedOutside.contains($0) })
      {
        found.append((boundary, 0))
      }
      return found
    }

    /// Bits per unit of cost of deploying `commit` (of mass `mass`): its exact one-run
    /// look-ahead, scaled by how much more the runs that pay best there give per unit of
    /// cost than one run does, by the channel's estimate.
    func deployValue(of commit: ObjectID, mass: Double) -> Double {
      let exact = search.lookAhead(commit)
      let single = channel.information(mass)
      let perCost = 1 / (costs.deploy + costs.test)
      guard single > 1e-12 else { return exact * perCost }
      return exact * Swift.max(perCost, channel.deployRate(mass) / single)
    }

    /// The commit numbers nearest to the quantiles of the culprits' mass, for a round of
    /// `count` environments.
    func quantiles(count: Int, excluding excluded: Set<ObjectID>) -> [Int] {
      guard count > 0 else { return [] }
      let total = index.total
      var testable = search.candidateFlags.subtracting(search.skipped)
      for commit in excluded { if let number = search.graph.number(of: commit) { testable.remove(number) } }
      let goals = (1...count).map { j in
        let target = total * Double(j) / Double(count + 1)
        return MassGoal(
          score: { abs($0 - target) },
          bestScore: {
            $0.contains(target) ? 0 : Swift.min(abs($0.lowerBound - target), abs($0.upperBound - target))
          })
      }
      let least = FlakyBisection.leastInformation
      let channel = channel
      return index.choose(
        goals: goals, testable: testable, isInformative: { channel.information($0) > least },
        mayBeInformative: { channel.mayInform($0) },
        workBudget: Bisection.workBudget(search.graph.count)
      ).map(\.number)
    }
  }
}
