import Foundation
import History

// Escaping and formatting shared by both reports. Everything here is deterministic: no
// locale, no current time zone, so a report renders the same on every machine.

/// Text fit for HTML and XML: the five special characters escaped, terminal escape
/// sequences dropped and characters XML forbids replaced (log tails carry both).
func htmlEscaped(_ text: String) -> String {
  var out = ""
  out.reserveCapacity(text.utf8.count + 16)
  for scalar in cleanedForDisplay(text).unicodeScalars {
    switch scalar {
    case "&": out += "&amp;"
    case "<": out += "&lt;"
    case ">": out += "&gt;"
    case "\"": out += "&quot;"
    case "'": out += "&#39;"
    default: out.unicodeScalars.append(scalar)
    }
  }
  return out
}

/// Drops ANSI escape sequences (colours, cursor moves) and replaces characters that XML 1.0
/// does not allow with U+FFFD, so a log tail never breaks the page.
func cleanedForDisplay(_ text: String) -> String {
  let scalars = Array(text.unicodeScalars)
  var out = String.UnicodeScalarView()
  var index = 0
  while index < scalars.count {
    let scalar = scalars[index]
    if scalar == "\u{1B}" {
      index += 1
      if index < scalars.count, scalars[index] == "[" {
        // CSI: parameters and intermediates, then one final byte in @...~.
        index += 1
        while index < scalars.count, !(0x40...0x7E).contains(scalars[index].value) { index += 1 }
        index += 1
      } else if index < scalars.count, scalars[index] == "]" {
        // OSC: up to BEL or ESC \.
        while index < scalars.count, scalars[index] != "\u{07}", scalars[index] != "\u{1B}" { index += 1 }
        index += scalars.count > index && scalars[index] == "\u{1B}" ? 2 : 1
      } else {
        index += 1
      }
      continue
    }
    switch scalar.value {
    case 0x09, 0x0A, 0x0D, 0x20...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF: out.append(scalar)
    default: out.append("\u{FFFD}")
    }
    index += 1
  }
  return String(out)
}

/// "0.4 s", "42 s", "3 min 05 s", "1 h 02 min": every renderer's one way to say a time.
package func durationText(_ seconds: Double) -> String {
  guard seconds.isFinite, seconds >= 0 else { return "–" }
  if seconds < 10 { return "\(oneDecimal(seconds)) s" }
  let whole = Int(seconds.rounded())
  if whole < 60 { return "\(whole) s" }
  if whole < 3600 { return "\(whole / 60) min \(twoDigits(whole % 60)) s" }
  return "\(whole / 3600) h \(twoDigits(whole % 3600 / 60)) min"
}

/// Seconds with one decimal, or "–" when unknown.
func secondsText(_ seconds: Double?) -> String {
  guard let seconds, seconds.isFinite else { return "–" }
  return oneDecimal(seconds)
}

func oneDecimal(_ value: Double) -> String {
  let tenths = Int((value * 10).rounded())
  let sign = tenths < 0 ? "-" : ""
  return "\(sign)\(abs(tenths) / 10).\(abs(tenths) % 10)"
}

private func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

/// "2017-03-21 20:20 UTC": dates are shown in UTC so that reports do not depend on the machine.
func dateTimeText(_ date: Date) -> String {
  let parts = utcCalendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
  return
    "\(parts.year ?? 0)-\(twoDigits(parts.month ?? 0))-\(twoDigits(parts.day ?? 0)) "
    + "\(twoDigits(parts.hour ?? 0)):\(twoDigits(parts.minute ?? 0)) UTC"
}

/// "2017-03-21".
func dayText(_ date: Date) -> String {
  let parts = utcCalendar.dateComponents([.year, .month, .day], from: date)
  return "\(parts.year ?? 0)-\(twoDigits(parts.month ?? 0))-\(twoDigits(parts.day ?? 0))"
}

private let utcCalendar: Calendar = {
  var calendar = Calendar(identifier: .gregorian)
  calendar.timeZone = TimeZone(identifier: "UTC")!
  return calendar
}()

/// What the notes column says about where a verdict came from.
func provenanceText(_ step: StepSummary) -> String {
  [step.reused ? "reused" : nil, step.replayed ? "replayed" : nil].compactMap { $0 }.joined(separator: ", ")
}

/// Whether a step's log tail is worth showing in the Markdown report (the HTML shows all).
func isFailure(_ step: StepSummary) -> Bool {
  step.verdict != .good
}

/// The good hashes shortened for display.
func shortList(_ hashes: [String]) -> String {
  hashes.map { String($0.prefix(12)) }.joined(separator: ", ")
}

/// "99.73%": a probability (0...1) as a percentage with two decimals, "<0.01%" for tiny ones;
/// the same on every machine (no locale).
public func percentText(_ probability: Double) -> String {
  guard probability.isFinite else { return "–" }
  let hundredths = Int((probability * 10_000).rounded())
  if hundredths == 0 && probability > 0 { return "<0.01%" }
  return "\(hundredths / 100).\(twoDigits(hundredths % 100))%"
}

/// "2 of 3 runs bad", "1 of 3 runs bad, 1 skipped", "3 of 3 runs good"; nil for a single run
/// (but for a confirmation, whose runs are its point).
func runsText(_ step: StepSummary) -> String? {
  let runs = step.runVerdicts
  guard runs.count > 1 || (runs.count == 1 && step.purpose == .confirm) else { return nil }
  let bad = runs.count { $0 == .bad }
  let good = runs.count { $0 == .good }
  let skipped = runs.count { $0 == .skip }
  let counted =
    bad == 0 && good > 0
    ? "\(good) of \(runs.count) run\(runs.count == 1 ? "" : "s") good"
    : "\(bad) of \(runs.count) run\(runs.count == 1 ? "" : "s") bad"
  return counted + (skipped > 0 ? ", \(skipped) skipped" : "")
}

/// What a step concluded in words: its verdict, or that its deploy failed and it moved on.
func verdictWord(_ step: StepSummary) -> String {
  step.moved ? "deploy failed, moved" : step.verdict.word
}

/// The notes column of the steps tables: test runs, then where a verdict came from.
func notesText(_ step: StepSummary) -> String {
  let pin = step.dependency.map { name in "\(name) at \(revisionText(step.revision ?? ""))" }
  return [pin, runsText(step), provenanceText(step).isEmpty ? nil : provenanceText(step)].compactMap { $0 }
    .joined(separator: "; ")
}

/// The Env column is shown only when steps ran in more than one environment.
func showsEnvironmentColumn(_ summary: HuntSummary) -> Bool {
  summary.environmentsUsed.count > 1
}

/// "99.73% (confidence reached, 23 test runs)".
func confidenceText(_ probability: ProbabilitySummary) -> String {
  let deploys = probability.deploys.map { ", \($0) deploy\($0 == 1 ? "" : "s")" } ?? ""
  return "\(percentText(probability.probability)) (\(probability.reasonText), "
    + "\(probability.testRuns) test run\(probability.testRuns == 1 ? "" : "s")\(deploys))"
}

/// What the runs say of the failure rates: "fails 48% of runs from `3e5ddf7` on, 2% before";
/// after "no regression", the endpoints' counts: "bad failed 0 of 12 runs, good 0 of 12".
/// Nil when the stored outcome has neither. `code` renders a hash.
func failureRateText(_ probability: ProbabilitySummary, culprit: String?, code: (String) -> String) -> String? {
  if probability.reason == "no-regression" {
    guard let bad = probability.badEnd, let good = probability.goodEnd else { return nil }
    return "bad failed \(bad.fails) of \(bad.runs) run\(bad.runs == 1 ? "" : "s"), good \(good.fails) of \(good.runs)"
  }
  guard let after = probability.failsAfter, let before = probability.failsBefore else { return nil }
  let from = culprit.map { " from \(code($0)) on" } ?? " from the culprit on"
  return "fails \(rateText(after)) of runs\(from), \(rateText(before)) before"
}

/// A share of runs as a whole percentage, or to one decimal below 1% ("0.4%").
public func rateText(_ rate: Double) -> String {
  let percent = rate * 100
  if percent > 0 && percent < 1 { return String(format: "%.1f%%", percent) }
  return String(format: "%.0f%%", percent)
}

/// The first sentence of the confirmation section, in plain words.
func confirmationSentence(_ confirmation: ConfirmationSummary) -> String {
  confirmation.holds
    ? "The answer holds: tested again, the culprit failed every run and its parents passed every run."
    : "The answer does not hold: tested again, the culprit did not fail every run or a parent did not pass "
      + "every run (see the runs below); treat the culprit with caution."
}

/// The text with a full stop at its end, unless it already ends a sentence.
func sentence(_ text: String) -> String {
  let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
  return trimmed.hasSuffix(".") || trimmed.hasSuffix("!") || trimmed.hasSuffix("?") ? trimmed : trimmed + "."
}
