import BisectEngine
import Foundation
import GitKit
import History
import HuntStore
import Runner

/// What a hunt learned beyond its steps: the commits it will name, what was deployed before
/// it (`restore: original`), and what `--descend`, `--confirm` and `--flaky` add to the
/// answer. The report and the stored outcome are made from it here, in one place.
package struct Findings {
  /// The facts of every commit the report names (culprits, tested commits).
  package var commits: [ObjectID: CommitInfo] = [:]
  /// What `restore.original_command` said was deployed before the hunt.
  package var original: ObjectID?
  package var descent: Descent?
  package var confirmation: Confirmation?
  /// `--confirm-revert`: bad with the culprit reverted, and how its test went.
  package var revert: RevertProof?
  package var flaky: FlakySummary?
  /// In the probabilistic mode: how many commits hold the confidence's share of the
  /// probability, shown as the candidates left.
  package var plausibleCount: Int?
  /// `--descend-deps`: what the search found for each pin the culprit changed.
  package var dependencies: [DependencyFinding] = []
  /// `--descend-deps` looked at the culprit's pins (even when it changed none).
  package var dependencySearch = false

  /// The outcome as the state database stores it (reports read it back), with what
  /// --descend, --flaky and --confirm add to it.
  package func storedOutcome(_ outcome: HuntOutcome) -> String {
    var stored = OutcomeText(first: Self.describe(outcome))
    stored.descent = descent.map { OutcomeText.Descent(merge: $0.merge.hex, note: $0.note) }
    stored.probability = flaky.map { flaky in
      OutcomeText.Probability(
        probability: flaky.saysNoRegression ? flaky.noRegression : flaky.probability,
        runnerUp: flaky.saysNoRegression ? nil : flaky.runnerUp?.hex,
        runnerUpProbability: flaky.saysNoRegression ? nil : flaky.runnerUpProbability,
        reason: flaky.reason, testRuns: flaky.testRuns, deploys: flaky.deploys, failsAfter: flaky.failsAfter,
        failsBefore: flaky.failsBefore, badEnd: flaky.badEnd, goodEnd: flaky.goodEnd)
    }
    stored.dependencies = dependencies.map(Self.stored)
    stored.confirmationHolds = confirmation?.holds
    stored.revert = revert?.stored
    return stored.text
  }

  /// A dependency's finding as the stored outcome keeps it.
  package static func stored(_ finding: DependencyFinding) -> OutcomeText.Dependency {
    let note = finding.note ?? finding.answer.rawValue
    let result: OutcomeText.Dependency.Result
    switch finding.answer {
    case .found:
      result = .culprit(
        commit: finding.commit?.hex ?? "", version: finding.version, merge: finding.merge?.hex, note: finding.note)
    case .merge: result = .merge(finding.commit?.hex ?? "", note: note)
    case .notTheCause: result = .notTheCause(note)
    case .notDescended: result = .notDescended(note)
    case .inconclusive: result = .inconclusive(note)
    }
    return OutcomeText.Dependency(name: finding.name, old: finding.old, new: finding.new, result: result)
  }

  package static func describe(_ outcome: HuntOutcome) -> String {
    switch outcome {
    case .culprit(let id): "culprit \(id.hex)"
    case .culpritAmong(let ids): "culprit-among \(ids.map(\.hex).joined(separator: " "))"
    case .noRegression: "no-regression"
    case .contradiction(let conclusion): "contradiction: \(conclusion.explanation)"
    case .nothingToSearch(let conclusion): "nothing-to-search: \(conclusion.explanation)"
    case .aborted(let why): "aborted: \(why)"
    case .stopped(let cause): "stopped \(cause)"
    }
  }

  /// The report of a hunt that ended with `outcome` after `steps`.
  package func report(
    _ outcome: HuntOutcome, setup: HuntSetup, pool: EnvironmentPool, steps: [StepRecord], huntID: Int64,
    duration: Duration, restoredTo: ObjectID?, restoration: Restoration
  ) -> HuntReport {
    var report = HuntReport(
      outcome: outcome, bad: setup.bad, goods: setup.goods, environment: pool.huntName,
      candidateCount: setup.graph.candidateCount, steps: steps, duration: duration, restoredTo: restoredTo,
      restoreResult: restoration.worst, logDirectory: setup.logDirectory, commits: commits)
    report.huntID = huntID
    report.environments = pool.all.map(\.name)
    report.restoreResults = restoration.results
    report.restoreFailures = restoration.failures
    report.retiredEnvironments = pool.retired
    report.descent = descent
    report.confirmation = confirmation
    report.revert = revert
    report.flaky = flaky
    report.dependencies = dependencies
    report.dependenciesSearched = dependencySearch
    let repository = setup.repository
    switch outcome {
    case .nothingToSearch(.emptyRange):
      report.endpointsSwapped = setup.goods.contains { good in
        good != setup.bad && ((try? repository.isAncestor(setup.bad, of: good)) ?? false)
      }
    case .culprit(let culprit):
      report.culpritFiles = (try? repository.changedFiles(of: culprit)) ?? []
      report.culpritMerge =
        descent?.commit != nil
        ? descent?.merge : try? repository.firstContaining(culprit, along: setup.graph.firstParentChain().ids)
      if let merge = report.culpritMerge, let facts = try? repository.commit(merge) { report.commits[merge] = facts }
    case .culpritAmong(let ids):
      for id in ids where report.commits[id] == nil { report.commits[id] = try? repository.commit(id) }
    default:
      break
    }
    return report
  }
}

/// How the restore went in each environment.
package struct Restoration {
  package var results: [String: CommandResult] = [:]
  /// Environments where the restore deploy could not even start, or was stopped, with why.
  package var failures: [String: String] = [:]
  /// A second stop request ended the restore: the hunt stays open, so that `resume`
  /// finishes it (and restores).
  package var interrupted = false

  /// The result to show when only one is shown: a failed one first.
  package var worst: CommandResult? { results.values.sorted { !$0.succeeded && $1.succeeded }.first }
}
