import Foundation
import History

/// The hunt as GitHub-flavoured Markdown, for pasting into an issue or a pull request.
///
/// User text (subjects, names, paths, logs) is escaped so that it cannot open a table cell,
/// a code span or an HTML tag; logs go into fenced blocks longer than any backtick run in them.
public func markdownReport(_ summary: HuntSummary) -> String {
  var lines: [String] = []
  lines.append("## \(markdownInline(summary.title)): \(summary.outcome.heading)")
  lines.append("")
  lines.append("**\(markdownInline(summary.outcomeText))**")
  lines.append("")
  let environments = summary.environments
  var facts = [
    "Repository \(codeSpan(summary.repository)), "
      + (environments.count > 1
        ? "environments \(environments.map(codeSpan).joined(separator: ", "))"
        : "environment \(codeSpan(summary.environment))"),
    "bad \(codeSpan(String(summary.badHash.prefix(12))))",
  ]
  if !summary.goodHashes.isEmpty { facts.append("good \(codeSpan(shortList(summary.goodHashes)))") }
  lines.append(facts.joined(separator: ", ") + ".")
  lines.append(
    "\(summary.candidateCount) candidate\(summary.candidateCount == 1 ? "" : "s"), "
      + "\(summary.steps.count) step\(summary.steps.count == 1 ? "" : "s"), "
      + "\(durationText(summary.totalSeconds)); started \(dateTimeText(summary.started)).")
  if let probability = summary.probability {
    lines.append("")
    lines.append(confidenceLine(probability))
    if let rates = failureRateText(probability, culprit: summary.culprit?.shortHash, code: codeSpan) {
      lines.append("")
      lines.append("Failure rate: \(rates).")
    }
  }

  if let culprit = summary.culprit {
    lines.append("")
    lines.append(summary.outcome == .culpritAmong ? "### Possible culprit" : "### Culprit")
    lines.append("")
    lines += commitLines(culprit)
    if let merge = summary.merge {
      lines.append("")
      lines.append(mergeLine(merge, pullRequest: summary.pullRequest))
    } else if let number = summary.pullRequest {
      lines.append("")
      lines.append("Pull request #\(number).")
    }
    if !culprit.body.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
      lines.append("")
      lines += fencedBlock(culprit.body.trimmingCharacters(in: .whitespacesAndNewlines), info: "text")
    }
    if !culprit.changedFiles.isEmpty {
      lines.append("")
      lines.append("Changed files:")
      lines.append("")
      for file in culprit.changedFiles {
        lines.append("- \(markdownInline(file.status)) \(codeSpan(file.path))")
      }
    }
  }
  if let descent = summary.descent {
    lines.append("")
    lines.append("### How it was found")
    lines.append("")
    lines.append(descentLine(descent))
  }
  if !summary.dependencies.isEmpty {
    lines.append("")
    lines.append("### Inside the dependencies")
    lines.append("")
    for dependency in summary.dependencies {
      lines.append("- \(markdownInline(sentence(dependency.sentence)))")
      if let commit = dependency.commit {
        lines.append(
          "  commit \(codeSpan(commit.hash)) by \(markdownInline(commit.authorName)), \(dateTimeText(commit.authorDate))"
        )
      }
    }
  }
  if !summary.otherPossibleCulprits.isEmpty {
    lines.append("")
    lines.append(summary.culprit == nil ? "### Possible culprits" : "### Other possible culprits")
    lines.append("")
    for commit in summary.otherPossibleCulprits {
      lines.append(
        "- \(codeSpan(commit.shortHash)) \(markdownInline(commit.subject)) "
          + "(\(markdownInline(commit.authorName)), \(dateTimeText(commit.authorDate)))")
    }
  }

  if !summary.steps.isEmpty {
    lines.append("")
    lines.append("### Steps")
    lines.append("")
    let showsEnvironment = showsEnvironmentColumn(summary)
    let environmentHeader = showsEnvironment ? " Env |" : ""
    let environmentRule = showsEnvironment ? " --- |" : ""
    lines.append(
      "| Step | Commit |\(environmentHeader) Subject | Purpose | Verdict | Deploy (s) | Test (s) | Total | Notes |")
    lines.append("| ---: | --- |\(environmentRule) --- | --- | --- | ---: | ---: | ---: | --- |")
    for step in summary.steps {
      var cells = [
        "\(step.number)", codeSpan(step.shortHash), markdownInline(step.subject), step.purpose.rawValue,
        verdictMark(step), secondsText(step.deploySeconds), secondsText(step.testSeconds),
        durationText(step.totalSeconds), markdownInline(notesText(step)),
      ]
      if showsEnvironment { cells.insert(step.environment.isEmpty ? "–" : codeSpan(step.environment), at: 2) }
      lines.append("| " + cells.map(tableCell).joined(separator: " | ") + " |")
    }
    lines.append("")
    lines.append(timeSpentLine(summary))
    let reused = summary.steps.filter { $0.reused || $0.replayed }
    if !reused.isEmpty {
      lines.append("")
      lines.append("Verdicts not tested by this hunt:")
      lines.append("")
      for step in reused {
        lines.append(
          "- step \(step.number) \(codeSpan(step.shortHash)): \(verdictWord(step)) "
            + "(\(step.reused ? "reused from the verdict cache" : "replayed from saved state"))")
      }
    }
  }

  if let confirmation = summary.confirmation {
    lines.append("")
    lines.append("### Confirmation")
    lines.append("")
    lines.append(confirmationSentence(confirmation))
    if !confirmation.tallies.isEmpty {
      lines.append("")
      lines.append("| Commit | Role | Subject | Bad runs | Good runs | Skipped runs |")
      lines.append("| --- | --- | --- | ---: | ---: | ---: |")
      for tally in confirmation.tallies {
        let cells = [
          codeSpan(tally.shortHash), tally.isCulprit ? "culprit" : "parent", markdownInline(tally.subject),
          "\(tally.bad)", "\(tally.good)", "\(tally.skipped)",
        ]
        lines.append("| " + cells.map(tableCell).joined(separator: " | ") + " |")
      }
    }
  }

  if let revert = summary.revert {
    lines.append("")
    lines.append("### Revert proof")
    lines.append("")
    lines.append(markdownInline(revert.sentence))
    if let commit = revert.commit, let reference = revert.reference {
      lines.append("")
      lines.append("The revert commit \(codeSpan(String(commit.prefix(10)))) is kept as \(codeSpan(reference)).")
    }
    if let next = revert.nextStep {
      lines.append("")
      lines.append(markdownInline(next) + ".")
    }
  }

  let failures = summary.steps.filter {
    isFailure($0) && !$0.logTail.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
  }
  if !failures.isEmpty {
    lines.append("")
    lines.append("### Logs")
    for step in failures {
      lines.append("")
      lines.append("<details>")
      lines.append(
        "<summary>Step \(step.number): \(htmlEscaped(step.shortHash)) \(htmlEscaped(step.subject)) "
          + "(\(verdictWord(step)))</summary>")
      lines.append("")
      lines += fencedBlock(cleanedForDisplay(step.logTail), info: "text")
      lines.append("")
      lines.append("</details>")
    }
  }
  // A Markdown file is read in terminals too (cat, less -R, git diff): no control character from
  // repository data or command output reaches it raw.
  return (lines.joined(separator: "\n") + "\n").terminalSafe(keepingNewlines: true)
}

private func commitLines(_ commit: CommitDetails) -> [String] {
  [
    "\(codeSpan(commit.shortHash)) **\(markdownInline(commit.subject))**  ",
    "by \(markdownInline(commit.authorName)) \\<\(markdownInline(commit.authorEmail))\\>, "
      + "\(dateTimeText(commit.authorDate))  ",
    "commit \(codeSpan(commit.hash))",
  ]
}

private func mergeLine(_ merge: CommitDetails, pullRequest: Int?) -> String {
  let pr = pullRequest.map { " (pull request #\($0))" } ?? ""
  return "Landed by merge \(codeSpan(merge.shortHash)) \(markdownInline(merge.subject))\(pr), "
    + "\(dateTimeText(merge.authorDate))."
}

private func timeSpentLine(_ summary: HuntSummary) -> String {
  let deploy = summary.steps.compactMap(\.deploySeconds).reduce(0, +)
  let test = summary.steps.compactMap(\.testSeconds).reduce(0, +)
  let reused = summary.steps.filter { $0.reused || $0.replayed }.count
  let notTested = reused == 0 ? "" : "; \(reused) of \(summary.steps.count) steps took a verdict without testing"
  return "Time spent: \(durationText(summary.totalSeconds)) in all; deploying \(durationText(deploy)), "
    + "testing \(durationText(test))\(notTested)."
}

/// "Confidence: 99.73% (confidence reached, 23 test runs); runner-up `abc1234` Subject at 0.21%."
private func confidenceLine(_ probability: ProbabilitySummary) -> String {
  var line = "Confidence: \(confidenceText(probability))"
  if let runnerUp = probability.runnerUp {
    let subject = runnerUp.subject.isEmpty ? "" : " \(markdownInline(runnerUp.subject))"
    line += "; runner-up \(codeSpan(runnerUp.shortHash))\(subject) at \(percentText(runnerUp.probability))"
  }
  return line + "."
}

/// "The first-parent search blamed merge `m` (pull request #146); inside it, `c` Subject broke it."
private func descentLine(_ descent: DescentSummary) -> String {
  var line = "The first-parent search blamed merge \(codeSpan(descent.merge.shortHash))"
  if let number = descent.pullRequest {
    line += " (pull request #\(number))"
  } else {
    line += " \(markdownInline(descent.merge.subject))"
  }
  if let inner = descent.innerCulprit {
    line += "; inside it, \(codeSpan(inner.shortHash)) \(markdownInline(inner.subject)) broke it."
  } else if let note = descent.note {
    line += "; the merge is the answer: \(markdownInline(sentence(note)))"
  } else {
    line += "; the merge is the answer."
  }
  return line
}

private func verdictMark(_ step: StepSummary) -> String {
  if step.moved { return "↪️ deploy failed, moved" }
  return switch step.verdict {
  case .good: "✅ good"
  case .bad: "❌ bad"
  case .skip: "⏭️ skip"
  case .abort: "⛔ abort"
  case .stopped: "⏹️ stopped"
  }
}

/// Inline user text: Markdown punctuation backslash-escaped, newlines folded into spaces.
func markdownInline(_ text: String) -> String {
  var out = ""
  for character in cleanedForDisplay(text) {
    switch character {
    case "\\", "`", "*", "_", "[", "]", "<", ">", "|", "&", "#", "~", "!":
      out.append("\\")
      out.append(character)
    case "\n", "\r", "\r\n", "\t":
      out.append(" ")
    default:
      out.append(character)
    }
  }
  return out
}

/// A code span whose delimiter is longer than any backtick run in the text.
func codeSpan(_ text: String) -> String {
  let flat = cleanedForDisplay(text).replacingOccurrences(of: "\n", with: " ")
  let fence = String(repeating: "`", count: longestBacktickRun(flat) + 1)
  let padding = flat.hasPrefix("`") || flat.hasSuffix("`") ? " " : ""
  return fence + padding + flat + padding + fence
}

/// A table cell: pipes escaped, even inside code spans (GFM reads `\|` there as a pipe).
private func tableCell(_ text: String) -> String {
  var out = ""
  var previous: Character?
  for character in text {
    if character == "|" && previous != "\\" { out.append("\\") }
    out.append(character)
    previous = character
  }
  return out
}

private func fencedBlock(_ text: String, info: String) -> [String] {
  let fence = String(repeating: "`", count: max(3, longestBacktickRun(text) + 1))
  return [fence + info] + text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) + [fence]
}

private func longestBacktickRun(_ text: String) -> Int {
  var longest = 0
  var run = 0
  for character in text {
    run = character == "`" ? run + 1 : 0
    longest = max(longest, run)
  }
  return longest
}
