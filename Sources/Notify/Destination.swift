import Foundation

/// How a webhook's message is written.
public enum NotifyFormat: String, Sendable, Hashable, CaseIterable {
  /// Slack's incoming webhooks (`text` and blocks); Mattermost and Rocket.Chat accept it too.
  case slack
  /// Microsoft Teams' incoming webhooks (a MessageCard).
  case teams
  /// The object `--json` prints as its result.
  case json
}

/// The outcomes a destination is told about (`on:`).
public enum NotifyTrigger: String, Sendable, Hashable, CaseIterable {
  /// One first bad commit was found.
  case culprit
  /// Bad tested good (for a nightly run: the regression is gone).
  case noRegression = "no-regression"
  /// Only skipped commits are left: the culprit is one of a few.
  case skippedOnly = "skipped-only"
  /// The hunt aborted or was stopped.
  case aborted
  /// No answer: contradicting verdicts, nothing to search, or the hunt could not run.
  case failure
}

/// Where a webhook's address comes from. The address is a secret: it is never printed.
public enum WebhookAddress: Sendable, Hashable {
  /// Written in the configuration file.
  case url(String)
  /// Held by this environment variable (`url_env:`).
  case variable(String)
}

/// One entry of `notify:` in the configuration.
public struct NotifyDestination: Sendable, Hashable {
  public enum Target: Sendable, Hashable {
    /// An HTTP POST of the message to a webhook.
    case webhook(WebhookAddress, format: NotifyFormat)
    /// A shell command that reads the `--json` result object on its standard input.
    case command(String)
  }

  public var target: Target
  /// The outcomes this destination hears of; every one by default.
  public var triggers: Set<NotifyTrigger>
  /// The most time the notification may take, retries included.
  public var timeout: Duration
  /// Its place in `notify:`, from 1, for messages.
  public var position: Int

  public init(
    target: Target, triggers: Set<NotifyTrigger> = Set(NotifyTrigger.allCases), timeout: Duration = .seconds(30),
    position: Int
  ) {
    self.target = target
    self.triggers = triggers
    self.timeout = timeout
    self.position = position
  }

  /// How messages name it: never the webhook's address.
  public var label: String {
    switch target {
    case .webhook(.url, let format): "notify[\(position)] (\(format.rawValue) webhook, URL in the configuration)"
    case .webhook(.variable(let name), let format):
      "notify[\(position)] (\(format.rawValue) webhook, URL from $\(name))"
    case .command: "notify[\(position)] (command)"
    }
  }
}

/// Letters, digits and `_`, not starting with a digit: a name a shell variable can have.
public func isVariableName(_ name: String) -> Bool {
  guard let first = name.unicodeScalars.first, !CharacterSet.decimalDigits.contains(first) else { return false }
  return name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_") }
}

/// True for an absolute http or https URL with a host: what a webhook's address must be.
public func isWebhookURL(_ text: String) -> Bool {
  guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
    let host = url.host, !host.isEmpty
  else { return false }
  return true
}
