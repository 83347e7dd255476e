import BisectEngine
import Foundation
import GitKit
import History

extension HuntSession {
  /// `--confirm N`: deploys the culprit and each of its parents (its first parent only in a
  /// first-parent search) once more and runs the test N times on each (all N, no early stop),
  /// to say whether the answer holds (under `--flaky`, by the search's own rates). Returns an
  /// outcome only when the hunt was stopped meanwhile.
  package mutating func confirm(_ culprit: ObjectID) async -> HuntOutcome? {
    // A first-parent search (and --descend keeping the merge) blames a merge against its
    // first parent only: the branch it merged may well hold the regression.
    let all = (try? info(culprit))?.parents ?? []
    let parents = configuration.firstParent ? Array(all.prefix(1)) : all
    let jobs: [Job] = [(culprit, .confirm)] + parents.map { ($0, .confirm) }
    let records = await runRound(
      jobs, runs: TestRuns(count: configuration.confirmRuns, rule: .majority, stopEarly: false))
    if records.contains(where: { $0.result == .stopped }) { return .stopped(stopper.reason ?? .signal(SIGINT)) }
    let tallies = records.map { record in
      Confirmation.Tally(
        commit: record.commit, bad: record.runVerdicts.count { $0 == .bad },
        good: record.runVerdicts.count { $0 == .good }, skipped: record.runVerdicts.count { $0 == .skip })
    }
    // Under --flaky a good commit may fail a run: judged by the rates the search used.
    let model = findings.flaky.map {
      Confirmation.Model(falseBad: $0.falseBad, falseGood: $0.falseGood, confidence: $0.confidence)
    }
    findings.confirmation = Confirmation(culprit: tallies[0], parents: Array(tallies.dropFirst()), model: model)
    return nil
  }
}
