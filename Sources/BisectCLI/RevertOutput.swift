import Foundation
import GitKit
import History
import HuntKit
import HuntReport

extension RevertProof {
  /// The proof in the reports' words (one sentence shared by the summary, `--json`, the
  /// reports and notifications).
  var summary: RevertSummary {
    let result: RevertSummary.Result
    var files = [String]()
    var reason: String?
    switch self.result {
    case .passes: result = .passes
    case .stillFails: result = .stillFails
    case .untested(let why):
      result = .untested
      reason = why
    case .conflicts(let conflicted):
      result = .conflicts
      files = conflicted
    case .failed(let why):
      result = .failed
      reason = why
    }
    return RevertSummary(
      result: result, culprit: culprit.short(), bad: bad.short(), commit: commit?.hex, reference: reference,
      files: files, reason: reason)
  }
}

extension Summary {
  /// The revert proof's lines of the summary.
  static func revertLines(of report: HuntReport) -> [String] {
    guard let revert = report.revert else { return [] }
    let summary = revert.summary
    var lines = ["  Revert proof: \(summary.sentence)"]
    if let commit = revert.commit, let reference = revert.reference {
      lines.append("  Revert commit \(commit.short(10)) is kept as \(reference)")
    }
    if let next = summary.nextStep { lines.append("  \(next)") }
    return lines
  }
}
