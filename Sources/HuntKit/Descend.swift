import BisectEngine
import Foundation
import GitKit
import History

extension HuntSession {
  /// `--descend`, second stage: the first-parent search blamed `merge`; hunt among the
  /// commits it brought in (those of its second and later parents that its first parent
  /// lacks, and that no good commit has). The merge is known bad and its first parent known good, so neither is tested
  /// again. When the inner search cannot name one commit, the merge is the answer and
  /// `descent.note` says why.
  package mutating func descend(into merge: ObjectID) async -> HuntOutcome {
    _ = try? info(merge)
    let inside = await searchInside(merge, of: repository, goods: goods, paths: configuration.paths, purpose: .descend)
    if let descent = inside.descent { findings.descent = descent }
    return inside.outcome
  }

  /// What the search inside a merge found: the outcome to go on with (the inner culprit, or
  /// the merge itself), and the descent to report (nil when `merge` is not a merge).
  package struct InsideMerge {
    var outcome: HuntOutcome
    var descent: Descent?
  }

  /// The search inside `merge` of `repository` (the hunt's, or a dependency's with
  /// `--descend-deps`), testing with `purpose`; `goods` and `paths` limit it as in the
  /// search that blamed the merge.
  package mutating func searchInside(
    _ merge: ObjectID, of repository: Repository, goods: [ObjectID], paths: [String], purpose: StepRecord.Purpose
  ) async -> InsideMerge {
    guard let facts = try? repository.commit(merge), facts.parents.count > 1 else {
      return InsideMerge(outcome: .culprit(merge))
    }
    let graph: CommitGraph
    do {
      graph = try repository.commitGraph(
        bad: merge, goods: [facts.parents[0]] + goods, paths: paths, firstParent: false)
    } catch {
      let descent = Descent(
        merge: merge, note: "its commits could not be read: \(error.localizedDescription)", innerCandidates: 0)
      return InsideMerge(outcome: .culprit(merge), descent: descent)
    }
    bisection = Bisection(graph: graph)
    let inner = max(0, graph.candidateCount - (graph.number(of: merge).map { graph.isCandidate[$0] ? 1 : 0 } ?? 0))
    var found = Descent(merge: merge, innerCandidates: inner)
    let outcome = await bisect(purpose: purpose)
    switch outcome {
    case .stopped:
      return InsideMerge(outcome: outcome)
    case .culprit(let commit) where commit != merge:
      found.commit = commit
      return InsideMerge(outcome: outcome, descent: found)
    case .culprit:
      found.note =
        "every commit it brought in tested good on its own: the regression comes from merging them into the first parent"
    case .culpritAmong(let commits):
      let untested = steps.filter {
        $0.purpose == purpose && !$0.moved && $0.result == .verdict(.skip) && graph.number(of: $0.commit) != nil
      }.count
      found.note =
        "the commits it brought in could not all be deployed on their own (\(untested) skipped); the first bad one is among "
        + commits.map { $0.short() }.joined(separator: ", ")
    case .aborted(let why):
      found.note = "the search inside it stopped: \(why)"
    case .contradiction(let conclusion):
      found.note = "the verdicts on its commits contradict each other (\(conclusion))"
    case .nothingToSearch:
      found.note = "none of the commits it brought in changes the given paths"
    case .noRegression:
      break
    }
    return InsideMerge(outcome: .culprit(merge), descent: found)
  }
}
