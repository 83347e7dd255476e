import Foundation

/// The body a webhook gets, in its format.
enum Payload {
  static func body(_ notice: Notice, format: NotifyFormat) -> Data {
    switch format {
    case .json: return notice.summary
    case .slack: return encode(slack(notice))
    case .teams: return encode(teams(notice))
    }
  }

  /// Slack's message: `text` (the notification's one line, and all that Mattermost and
  /// Rocket.Chat need) and blocks with the facts.
  static func slack(_ notice: Notice) -> [String: Any] {
    let facts = notice.facts.map { "*\(escapeSlack($0.name)):* \(escapeSlack($0.value))" }.joined(separator: "\n")
    var blocks: [[String: Any]] = [
      ["type": "section", "text": ["type": "mrkdwn", "text": "*\(escapeSlack(notice.headline))*"]]
    ]
    if !facts.isEmpty { blocks.append(["type": "section", "text": ["type": "mrkdwn", "text": facts]]) }
    blocks.append([
      "type": "context", "elements": [["type": "mrkdwn", "text": "bisect-deploy · \(notice.trigger.rawValue)"]],
    ])
    return ["text": escapeSlack(notice.headline), "blocks": blocks]
  }

  /// Teams' incoming webhook: a MessageCard with the facts.
  static func teams(_ notice: Notice) -> [String: Any] {
    [
      "@type": "MessageCard", "@context": "https://schema.org/extensions", "summary": plain(notice.headline),
      "themeColor": notice.trigger == .culprit || notice.trigger == .failure || notice.trigger == .aborted
        ? "D70000" : "2EB886",
      "title": plain(notice.headline),
      "sections": [
        [
          "activitySubtitle": "bisect-deploy · \(notice.trigger.rawValue)",
          "facts": notice.facts.map { ["name": plain($0.name), "value": plain($0.value)] },
        ] as [String: Any]
      ],
    ]
  }

  static func encode(_ object: [String: Any]) -> Data {
    (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
  }

  /// Text with control characters (from commit messages) taken out.
  static func plain(_ text: String) -> String {
    String(String.UnicodeScalarView(text.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : $0 }))
  }

  /// Slack's mrkdwn reads `&`, `<` and `>` as markup: escaped as Slack asks.
  static func escapeSlack(_ text: String) -> String {
    plain(text).replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;")
  }
}
