import Foundation
import Notify
import Yams

extension NodeReader {
  /// `notify:`: a list of destinations, each a `webhook:` (a URL, or `{url_env: NAME}`) with
  /// `format:` (slack, teams or json; default slack), or a `command:`; both with `on:` (the
  /// outcomes, default all) and `timeout:` (default 30 s, retries included). A URL is never
  /// quoted in a message: webhook URLs are secrets.
  func destinations(_ node: Node, key: KeyName) throws(ConfigurationError) -> [NotifyDestination] {
    guard case .sequence(let sequence) = node else {
      throw .invalid(
        path: path, line: key.line, key: key.name,
        problem: "expected a list of destinations (- webhook: … or - command: …)")
    }
    var destinations = [NotifyDestination]()
    for (offset, item) in sequence.enumerated() {
      let name = "notify[\(offset + 1)]"
      var address: WebhookAddress?
      var command: String?
      var format: NotifyFormat?
      var triggers = Set(NotifyTrigger.allCases)
      var timeout: Duration = .seconds(30)
      for (inner, value) in try mapping(item, key: name) {
        switch inner.name {
        case "webhook":
          if case .scalar = value {
            let url = try string(value, key: inner)
            guard isWebhookURL(url) else {
              throw .invalid(
                path: path, line: inner.line, key: inner.name,
                problem:
                  "expected an http or https URL (not shown: webhook URLs are secrets; url_env: NAME reads it from a variable)"
              )
            }
            address = .url(url)
          } else {
            for (field, fieldValue) in try mapping(value, key: "\(name).webhook") {
              guard field.name == "url_env" else { throw unknown(field, known: ["url_env"]) }
              let variable = try string(fieldValue, key: field)
              guard isVariableName(variable) else {
                throw .invalid(
                  path: path, line: field.line, key: field.name,
                  problem: "expected the name of an environment variable (letters, digits, _), found '\(variable)'")
              }
              address = .variable(variable)
            }
            if address == nil {
              throw .invalid(path: path, line: inner.line, key: inner.name, problem: "expected url_env: NAME")
            }
          }
        case "format": format = try choice(value, key: inner)
        case "command": command = try self.command(value, key: inner)
        case "on":
          triggers = []
          for word in try strings(value, key: inner) {
            guard let trigger = NotifyTrigger(rawValue: word) else {
              throw .invalid(
                path: path, line: inner.line, key: inner.name,
                problem:
                  "unknown outcome '\(word)' (known: \(NotifyTrigger.allCases.map(\.rawValue).joined(separator: ", ")))"
              )
            }
            triggers.insert(trigger)
          }
        case "timeout":
          timeout = try duration(value, key: inner) ?? longestDuration
        default: throw unknown(inner, known: ["webhook", "format", "command", "on", "timeout"])
        }
      }
      let target: NotifyDestination.Target
      switch (address, command) {
      case (let address?, nil): target = .webhook(address, format: format ?? .slack)
      case (nil, let command?):
        if format != nil {
          throw .invalid(
            path: path, line: key.line, key: "\(name).format",
            problem: "a command always gets the --json result on its standard input: remove format")
        }
        target = .command(command)
      case (nil, nil):
        throw .invalid(path: path, line: item.mark?.line, key: name, problem: "expected webhook: or command:")
      case (_?, _?):
        throw .invalid(path: path, line: item.mark?.line, key: name, problem: "give webhook: or command:, not both")
      }
      destinations.append(
        NotifyDestination(target: target, triggers: triggers, timeout: timeout, position: offset + 1))
    }
    return destinations
  }
}

extension Configuration {
  /// Every `url_env:` of `notify:` names a variable set in `environment`: checked before the
  /// first deploy, so that a hunt's news is not lost at its end.
  public func checkNotifications(environment: [String: String]) throws(ConfigurationError) {
    for destination in notify {
      if case .webhook(.variable(let name), _) = destination.target, environment[name]?.isEmpty ?? true {
        throw .conflict(
          "\(destination.label): the variable \(name) is not set (it holds the webhook's URL). Set it, or remove the destination."
        )
      }
    }
  }
}
