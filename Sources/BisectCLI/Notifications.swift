import Foundation
import GitKit
import History
import HuntKit
import HuntReport
import Notify

/// `notify:`: what a hunt's (or a night's) notification says, and how its deliveries are
/// shown. A notification never changes the outcome or the exit code.
enum HuntNotifications {
  /// The `on:` word for a hunt's outcome.
  static func trigger(for outcome: HuntOutcome) -> NotifyTrigger {
    switch outcome {
    case .culprit: .culprit
    case .noRegression: .noRegression
    case .culpritAmong: .skippedOnly
    case .aborted, .stopped: .aborted
    case .contradiction, .nothingToSearch: .failure
    }
  }

  /// The notice of a finished hunt: what a person needs to act on it. `summary` is the
  /// `--json` result object; `reportPath` the report written, if any.
  static func notice(
    for report: HuntReport, summary: [String: Any], reportPath: String?, prefix: String = ""
  ) -> Notice {
    var facts = [NoticeFact]()
    let environment = report.environment.replacingOccurrences(of: ",", with: ", ")
    var headline: String
    switch report.outcome {
    case .culprit(let id):
      let info = report.commits[id]
      headline = "\(environment): \(id.short()) \(info?.summary ?? "") is the first bad commit"
      facts.append(NoticeFact("Culprit", "\(id.short()) \(info?.summary ?? "") (\(id.hex))"))
      if let info {
        let date = Date(timeIntervalSince1970: TimeInterval(info.author.time)).formatted(.iso8601)
        facts.append(NoticeFact("Author", "\(info.author.name) <\(info.author.email)>, \(date)"))
      }
      let merge = report.culpritMerge.flatMap { report.commits[$0] }
      if let number = merge.flatMap({ pullRequestNumber(inMessage: $0.message) })
        ?? info.flatMap({ pullRequestNumber(inMessage: $0.message) })
      {
        let by = merge.map { " (merged by \($0.id.short()) \($0.summary))" } ?? ""
        facts.append(NoticeFact("Pull request", "#\(number)\(by)"))
      } else if let merge {
        facts.append(NoticeFact("Merged by", "\(merge.id.short()) \(merge.summary)"))
      }
    case .culpritAmong(let ids):
      headline = "\(environment): the first bad commit is one of \(ids.count) (skipped commits hide it)"
      facts.append(
        NoticeFact(
          "Possible culprits",
          ids.map { "\($0.short()) \(report.commits[$0]?.summary ?? "")" }.joined(separator: "; ")))
    case .noRegression:
      headline = "\(environment): no regression: bad \(report.bad.short()) tested good"
    case .contradiction(let conclusion):
      headline = "\(environment): the verdicts contradict each other: \(conclusion.explanation)"
    case .nothingToSearch(let conclusion):
      headline = "\(environment): nothing to search: \(conclusion.explanation)"
    case .aborted(let why):
      headline = "\(environment): hunt #\(report.huntID) aborted: \(why)"
    case .stopped:
      headline = "\(environment): hunt #\(report.huntID) was stopped before an answer (bisect-deploy resume goes on)"
    }
    facts.append(NoticeFact("Environment", environment))
    facts.append(NoticeFact("How sure", certainty(of: report)))
    if let revert = report.revert { facts.append(NoticeFact("Revert proof", revert.summary.sentence)) }
    facts.append(
      NoticeFact("Report", reportPath ?? "bisect-deploy report --hunt \(report.huntID) -o hunt-\(report.huntID).html"))
    if let prefix = prefix.isEmpty ? nil : prefix { headline = "\(prefix)\(headline)" }
    return Notice(
      trigger: trigger(for: report.outcome), headline: headline, facts: facts,
      summary: JSONEvents.encoded(summary) ?? Data())
  }

  /// Steps, confirmation and probability in one line.
  static func certainty(of report: HuntReport) -> String {
    let tested = report.steps.filter { !$0.moved }.count
    var parts = ["\(tested) step\(tested == 1 ? "" : "s") over \(report.candidateCount) candidates"]
    if let confirmation = report.confirmation {
      let runs = confirmation.culprit.bad + confirmation.culprit.good + confirmation.culprit.skipped
      parts.append(
        "confirmation \(confirmation.holds ? "holds" : "does NOT hold") (culprit failed \(confirmation.culprit.bad) of \(runs))"
      )
    }
    if let flaky = report.flaky { parts.append(String(format: "probability %.4f", flaky.probability)) }
    if let revert = report.revert { parts.append("revert proof: \(revert.summary.result.rawValue)") }
    return parts.joined(separator: "; ")
  }

  /// The notice of a hunt that could not run (an error before or instead of an answer).
  static func failureNotice(_ message: String, environment: String, exitCode: Int32) -> Notice {
    let summary: [String: Any] = [
      "event": "result", "outcome": "failure", "detail": message, "exitCode": Int(exitCode),
      "environment": environment,
    ]
    return Notice(
      trigger: .failure, headline: "\(environment): the hunt could not run: \(message)",
      facts: [NoticeFact("Environment", environment), NoticeFact("Error", message)],
      summary: JSONEvents.encoded(summary) ?? Data())
  }

  /// Sends the notice to the configured destinations that want it.
  static func send(_ notice: Notice, configuration: Configuration, logDirectory: URL) async -> [Delivery] {
    guard !configuration.notify.isEmpty else { return [] }
    let deliveries = await Notifier.send(
      notice, to: configuration.notify, environment: ProcessInfo.processInfo.environment, logDirectory: logDirectory)
    return deliveries
  }

  /// The summary's lines: each delivery, a failure said as one that changes nothing else.
  static func lines(_ deliveries: [Delivery]) -> [String] {
    deliveries.map { delivery in
      let tries = delivery.attempts > 1 ? " after \(delivery.attempts) attempts" : ""
      if delivery.succeeded { return "Notified \(delivery.destination)\(tries)." }
      return
        "Notification \(delivery.destination) FAILED\(tries): \(delivery.problem ?? "unknown"). The hunt's answer and exit code are unchanged."
    }
  }

  /// The deliveries in the `--json` result.
  static func json(_ deliveries: [Delivery]) -> [[String: Any]] {
    deliveries.map { delivery in
      var object: [String: Any] = [
        "destination": delivery.destination, "delivered": delivery.succeeded, "attempts": delivery.attempts,
      ]
      if let problem = delivery.problem { object["problem"] = problem }
      return object
    }
  }

  /// A folder for command destinations' logs when the hunt made none.
  /// A new folder of its own (mkdtemp: 0700, a name no one could make first), since the
  /// result written there names commits and commands.
  static func fallbackLogDirectory() -> URL {
    let template = FileManager.default.temporaryDirectory.appendingPathComponent("bisect-deploy-notify-XXXXXX").path
    var bytes = Array(template.utf8CString)
    let made = bytes.withUnsafeMutableBufferPointer { buffer -> Bool in
      guard let base = buffer.baseAddress else { return false }
      return mkdtemp(base) != nil
    }
    guard made else {
      return FileManager.default.temporaryDirectory.appendingPathComponent("bisect-deploy-notify-\(UUID().uuidString)")
    }
    return URL(fileURLWithPath: String(decoding: bytes.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self))
  }

}
