import Foundation
import GitKit
import History

/// The pin a dependency step wrote into the culprit's checkout: which dependency, and the
/// revision as written (a commit's 40 digits, a version, or a pin's own text at the ends).
public struct DependencyPin: Sendable, Hashable {
  public var name: String
  public var revision: String

  public init(name: String, revision: String) {
    self.name = name
    self.revision = revision
  }
}

/// A descent into a dependency begins: the culprit bumps `name` from `old` to `new`.
public struct DependencyBumpStart: Sendable, Hashable {
  public var name: String
  public var old: String
  public var new: String
  /// Commits or versions after `old` up to `new`: what may be blamed.
  public var candidates: Int
  /// `commits` or `versions`.
  public var revisions: String
}

/// What `--descend-deps` found for one pin the culprit changed.
public struct DependencyFinding: Sendable, Hashable {
  /// How the descent into the dependency ended.
  public enum Answer: String, Sendable, Hashable {
    /// The dependency's first bad commit (or version) is named.
    case found
    /// With `--descend`: the dependency's merge is the answer (`note` says why).
    case merge
    /// The bump tested good on its own (or the culprit failed without it): not the cause.
    case notTheCause = "not-the-cause"
    /// Nothing to descend into: `note` says why (a downgrade, a fork, a branch, a new pin…).
    case notDescended = "not-descended"
    /// The descent could not decide (skipped or contradicting verdicts, an abort).
    case inconclusive
  }

  public var name: String
  /// The revision the culprit's parent pinned; nil when the culprit adds the pin.
  public var old: String?
  public var new: String
  /// The culprit's files that pin it.
  public var files: [String]
  public var answer: Answer
  /// `commits` or `versions`; nil when not descended.
  public var revisions: String?
  /// The candidates after `old` up to `new`.
  public var candidates = 0
  /// `found`: the dependency's first bad commit (for versions, the version's commit);
  /// `merge`: the merge that is the answer.
  public var commit: ObjectID?
  /// `found` among versions: the first bad version, as the pin writes it.
  public var version: String?
  /// The merge on the dependency's first-parent line (from the old pin to the new) that
  /// brought `commit` in: its pull request. Nil when `commit` is on that line itself.
  public var merge: ObjectID?
  /// Why, for every answer but `found` (and for `found` inside a merge with `--descend`, nil).
  public var note: String?
  /// The facts of the dependency's commits named (`commit`, `merge`).
  public var commits: [ObjectID: CommitInfo] = [:]
}
