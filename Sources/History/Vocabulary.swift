/// The words every module shares for a hunt's steps, defined once. The state database stores
/// their raw values; reading a value that is not one of them is an error naming it, never a
/// silent default.

/// What testing one deployed commit said.
public enum Verdict: String, Sendable, Hashable, CaseIterable, Codable {
  /// The smoke test passed: the regression is not in this commit.
  case good
  /// The smoke test failed: the regression is in this commit or one of its ancestors.
  case bad
  /// The commit could not be deployed or tested; it is never chosen again.
  case skip
}

/// How many of the runs at one place failed: "bad failed 5 of 11 runs".
public struct RunTally: Sendable, Hashable {
  public var fails: Int
  public var runs: Int

  public init(fails: Int, runs: Int) {
    self.fails = fails
    self.runs = runs
  }
}

/// Why a commit was deployed and tested.
public enum StepPurpose: String, Sendable, Hashable, CaseIterable, Codable {
  /// Checking that bad is bad before bisecting.
  case verifyBad = "verify-bad"
  /// Checking that a good endpoint is good before bisecting.
  case verifyGood = "verify-good"
  /// A commit the engine chose.
  case bisect
  /// A verdict the user gave by hand (`bisect-deploy good|bad|skip`).
  case manual
  /// A commit inside the merge a first-parent search blamed (`--descend`).
  case descend
  /// The culprit or a parent tested again (`--confirm N`).
  case confirm
  /// The culprit's tree with a dependency's pins as before, or with only one of them bumped:
  /// whether a pin bump is the cause at all (`--descend-deps`, docs/dependencies.md).
  case dependencyCheck = "dependency-check"
  /// The culprit's tree with a dependency's pin rewritten to one of its commits or versions
  /// between the two pins (`--descend-deps`).
  case dependency

  /// Bad with the culprit reverted on top (`--confirm-revert`): a commit the tool made.
  case revert

  /// True for steps that deploy the culprit's tree with a dependency's pin rewritten: their
  /// commit is the dependency's, not the repository's.
  public var deploysDependency: Bool { self == .dependency || self == .dependencyCheck }
}
