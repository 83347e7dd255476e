import Foundation

/// `--confirm-revert`: bad with the culprit reverted on top (B'), deployed and tested.
public struct RevertSummary: Sendable, Hashable {
  public enum Result: String, Sendable, Hashable, CaseIterable {
    /// B' passes: reverting the culprit on top of bad fixes it.
    case passes
    /// B' still fails: another change after the culprit breaks it too.
    case stillFails = "still-fails"
    /// B' could not be deployed or tested.
    case untested
    /// The revert conflicts: nothing was deployed.
    case conflicts
    /// The revert could not be made.
    case failed
  }

  public var result: Result
  /// The culprit's short hash.
  public var culprit: String
  /// Bad's short hash.
  public var bad: String
  /// B', 40 hexadecimal digits, when it was made.
  public var commit: String?
  /// Where B' is kept (`refs/bisect-deploy/revert/<hunt>`).
  public var reference: String?
  /// The files that conflict (`conflicts`).
  public var files: [String]
  /// Why it could not be tested or made, when known.
  public var reason: String?

  public init(
    result: Result, culprit: String, bad: String, commit: String? = nil, reference: String? = nil,
    files: [String] = [], reason: String? = nil
  ) {
    self.result = result
    self.culprit = culprit
    self.bad = bad
    self.commit = commit
    self.reference = reference
    self.files = files
    self.reason = reason
  }

  /// The answer in one sentence, as the summary, the reports and notifications say it.
  public var sentence: String {
    switch result {
    case .passes:
      "Reverting \(culprit) on top of \(bad) fixes it: bad with the culprit reverted passes the smoke test."
    case .stillFails:
      "\(culprit) is not the whole story: with it reverted on top of \(bad) the smoke test still fails, so another change after \(culprit) breaks it too."
    case .untested:
      "The revert of \(culprit) on top of \(bad) could not be tested" + (reason.map { ": \($0)." } ?? ".")
    case .conflicts:
      "Reverting \(culprit) on top of \(bad) conflicts in \(files.joined(separator: ", ")); nothing was deployed."
    case .failed:
      "The revert of \(culprit) on top of \(bad) could not be made" + (reason.map { ": \($0)." } ?? ".")
    }
  }

  /// What to do next with the revert commit, when there is one.
  public var nextStep: String? {
    guard reference != nil, result == .passes || result == .stillFails || result == .untested else { return nil }
    return "Make it a branch to push: bisect-deploy revert-branch NAME"
  }
}
