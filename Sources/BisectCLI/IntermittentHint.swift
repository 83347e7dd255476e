import BisectEngine
import Foundation
import History
import HuntKit
import HuntStore

/// What a hunt without `--flaky` saw that says its test may be intermittent, and the command
/// that reruns it with `--flaky` (docs/flaky.md, "No flag to know in advance"). The tool
/// suggests rather than switching by itself: a hunt's meaning never changes under the user.
struct IntermittentHint: Sendable, Hashable {
  /// Why, in words: "bad passed its check", "commit 3e5ddf7 failed 1 of 3 runs"…
  var why: String
  /// The hunt's own arguments with `--flaky` added, as typed words.
  var arguments: [String]

  /// The hint for `report`, when it ran without `--flaky` and something in it contradicts a
  /// test that always gives the same answer; nil otherwise.
  init?(_ report: HuntReport, arguments: [String], flaky: Bool) {
    guard !flaky, report.flaky == nil else { return nil }
    var reasons = [String]()
    switch report.outcome {
    case .noRegression: reasons.append("bad \(report.bad.short()) passed its check")
    case .contradiction(.goodFoundBad(let id)):
      reasons.append("\(id.short()), on the good side, failed")
    case .contradiction(.badFoundGood(let id)):
      reasons.append("\(id.short()), on the bad side, passed")
    default: break
    }
    for step in report.decidedSteps where step.runVerdicts.contains(.bad) && step.runVerdicts.contains(.good) {
      let fails = step.runVerdicts.count { $0 == .bad }
      let runs = step.runVerdicts.count { $0 != .skip }
      reasons.append("\(step.commit.short()) failed \(fails) of \(runs) runs")
      break
    }
    if let confirmation = report.confirmation, !confirmation.holds {
      reasons.append("the confirmation runs disagree with the search")
    }
    guard !reasons.isEmpty else { return nil }
    why = reasons.joined(separator: "; ")
    self.arguments = arguments + ["--flaky"]
  }

  /// The command to copy: each word quoted for a POSIX shell, nothing raw.
  var command: String { (["bisect-deploy"] + arguments).map(shellWord).joined(separator: " ").terminalSafe() }

  /// The lines the summary prints.
  var lines: [String] {
    [
      "The test looks intermittent (\(why.terminalSafe())). Rerun with --flaky, which weighs every run as evidence and tests again where that pays:",
      "  \(command)",
    ]
  }
}
