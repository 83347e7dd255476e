import Foundation

/// One line of a message: a name and its value ("Culprit", "abc1234 raise memory limit").
public struct NoticeFact: Sendable, Hashable {
  public var name: String
  public var value: String

  public init(_ name: String, _ value: String) {
    self.name = name
    self.value = value
  }
}

/// What a notification says: made once by the CLI from a hunt's result, then written in each
/// destination's format. Plain text: each format escapes it as it needs.
public struct Notice: Sendable, Hashable {
  /// Which outcome this is (destinations choose with `on:`).
  public var trigger: NotifyTrigger
  /// The answer in one line, e.g. "dev: abc1234 is the culprit (raise memory limit)".
  public var headline: String
  /// What a person needs next: culprit, author, pull request, environment, how sure, report.
  public var facts: [NoticeFact]
  /// The object `--json` prints as its result, encoded: the `json` format and commands get it.
  public var summary: Data

  public init(trigger: NotifyTrigger, headline: String, facts: [NoticeFact], summary: Data) {
    self.trigger = trigger
    self.headline = headline
    self.facts = facts
    self.summary = summary
  }
}

/// How one destination was told, for the summary.
public struct Delivery: Sendable, Hashable {
  /// The destination's `label` (never its address).
  public var destination: String
  public var succeeded: Bool
  /// HTTP requests made (for a command: 1).
  public var attempts: Int
  /// Why it failed, with the webhook's address taken out.
  public var problem: String?

  public init(destination: String, succeeded: Bool, attempts: Int, problem: String? = nil) {
    self.destination = destination
    self.succeeded = succeeded
    self.attempts = attempts
    self.problem = problem
  }
}
