import Foundation
import History
import HuntReport
import Testing

@Suite("Markdown report")
struct MarkdownReportTests {
  @Test("shows the culprit, its merge and pull request, files and one table row per step")
  func culpritAndSteps() {
    let summary = HuntSummary.sample()
    let markdown = markdownReport(summary)
    let culprit = summary.culprit!
    #expect(markdown.contains("Culprit found"))
    #expect(markdown.contains("`\(culprit.shortHash)` **Generalization cleanup**"))
    #expect(markdown.contains("by Chen Wei \\<chen.wei@data8.example.org\\>, 2017-03-21 20:20 UTC"))
    #expect(
      markdown.contains(
        "Landed by merge `\(summary.merge!.shortHash)` Merge pull request \\#146 from data-8/generalization-cleanup (pull request #146)"
      ))
    #expect(markdown.contains("- M `hub/kubespawner/spawner.py`"))
    let rows = markdown.split(separator: "\n").filter {
      $0.hasPrefix("| ") && !$0.hasPrefix("| Step") && !$0.hasPrefix("| ---")
    }
    #expect(rows.count == summary.steps.count)
    #expect(
      rows.first
        == "| 1 | `\(summary.steps[0].shortHash)` | Update single-user image to 3f9a1c2 | verify-bad | ❌ bad | 48.2 | 11.6 | 1 min 01 s |  |"
    )
    #expect(rows.contains { $0.contains("verify-good") && $0.contains("| – | – |") && $0.hasSuffix("| reused |") })
    #expect(rows.contains { $0.contains("| replayed |") })
    #expect(markdown.contains("- step 2 `\(summary.steps[1].shortHash)`: good (reused from the verdict cache)"))
    #expect(markdown.contains("Time spent:"))
  }

  @Test("puts each failing step's log tail in a collapsible fenced block")
  func logs() {
    let summary = HuntSummary.sample()
    let markdown = markdownReport(summary)
    let failing = summary.steps.filter { $0.verdict != .good }
    #expect(markdown.components(separatedBy: "<details>").count - 1 == failing.count)
    #expect(
      markdown.contains(
        "<summary>Step 7: \(summary.culprit!.shortHash) Generalization cleanup (bad)</summary>\n\n```text\n"))
    #expect(markdown.contains("FAIL: expected 2, got nothing\n```\n\n</details>"))
  }

  @Test("escapes pipes, backticks and markup in user text")
  func escaping() {
    var summary = HuntSummary.sample()
    summary.steps[0].subject = "a | b `code` <b>bold</b> *star*"
    summary.steps[0].logTail = "output with ``` inside\n\u{1B}[31mred\u{1B}[0m"
    summary.culprit!.changedFiles = [ChangedFile(status: "M", path: "odd`name|x.yaml")]
    let markdown = markdownReport(summary)
    let row = markdown.split(separator: "\n").first { $0.hasPrefix("| 1 |") }.map(String.init) ?? ""
    #expect(row.contains(#"a \| b \`code\` \<b\>bold\</b\> \*star\*"#))
    // Every pipe in the row is either a cell border (" | ") or escaped.
    let borders = row.components(separatedBy: " | ").count + 1
    let pipes = row.filter { $0 == "|" }.count
    let escaped = row.components(separatedBy: "\\|").count - 1
    #expect(pipes == borders + escaped)
    #expect(markdown.contains("- M ``odd`name|x.yaml``"))
    #expect(markdown.contains("````text\noutput with ``` inside\nred\n````"))
  }

  @Test("reports outcomes without a culprit")
  func noCulprit() {
    var summary = HuntSummary.sample()
    summary.outcome = .noRegression
    summary.outcomeText = "the bad commit tested good"
    summary.culprit = nil
    summary.merge = nil
    summary.pullRequest = nil
    summary.steps = Array(summary.steps.prefix(1))
    summary.steps[0].verdict = .good
    let markdown = markdownReport(summary)
    #expect(markdown.contains("No regression"))
    #expect(!markdown.contains("### Culprit"))
    #expect(!markdown.contains("<details>"))
  }
}

/// The sample as the probabilistic mode (flaky tests) would end it.
func flakySummary() -> HuntSummary {
  var summary = HuntSummary.sample()
  let runnerUp = summary.timeline.first { $0.subject == "README: mention the on-call channel" }!
  summary.probability = ProbabilitySummary(
    probability: 0.9973,
    runnerUp: ProbableCulprit(
      hash: runnerUp.hash, shortHash: runnerUp.shortHash, subject: runnerUp.subject, probability: 0.0021),
    reason: "confident", testRuns: 23)
  return summary
}

@Suite("Markdown report of several environments, descents, flaky tests and confirmations")
struct MarkdownFeatureTests {
  private func rows(_ markdown: String) -> [String] {
    markdown.split(separator: "\n").map(String.init).filter { $0.hasPrefix("| ") }
  }

  @Test("names every environment and adds an Env column only when steps ran in several")
  func environments() {
    let summary = HuntSummary.parallelSample()
    let markdown = markdownReport(summary)
    #expect(markdown.contains("Repository `data-8/jupyterhub-k8s`, environments `dev1`, `dev2`, `dev3`, bad"))
    #expect(
      rows(markdown).first
        == "| Step | Commit | Env | Subject | Purpose | Verdict | Deploy (s) | Test (s) | Total | Notes |")
    #expect(rows(markdown).contains { $0.hasPrefix("| 3 | `\(summary.steps[2].shortHash)` | `dev1` | Pin the proxy") })
    #expect(rows(markdown).contains { $0.hasPrefix("| 2 | `\(summary.steps[1].shortHash)` | – | ") })

    let single = markdownReport(.sample())
    #expect(single.contains("Repository `data-8/jupyterhub-k8s`, environment `dev`, bad"))
    #expect(!single.contains("| Env |"))
  }

  @Test("shows a step whose deploy failed and moved on as such, never as a skip")
  func moved() throws {
    let summary = HuntSummary.parallelSample()
    let markdown = markdownReport(summary)
    let step = try #require(summary.steps.first { $0.moved })
    let row = try #require(rows(markdown).first { $0.hasPrefix("| \(step.number) |") })
    #expect(row.contains("| `dev3` |"))
    #expect(row.contains("| ↪️ deploy failed, moved |"))
    #expect(!markdown.contains("skip"))
    #expect(markdown.contains("<summary>Step \(step.number): \(step.shortHash) \(step.subject) (deploy failed, moved)"))
  }

  @Test("counts the test runs of repeated and confirming steps in the notes")
  func runs() {
    var summary = HuntSummary.parallelSample()
    summary.steps[2].runVerdicts = [.good, .skip, .good]
    summary.steps[3].runVerdicts = [.bad, .good, .bad]
    let rows = rows(markdownReport(summary))
    #expect(rows.contains { $0.hasPrefix("| 3 |") && $0.hasSuffix("| 2 of 3 runs good, 1 skipped |") })
    #expect(rows.contains { $0.hasPrefix("| 4 |") && $0.hasSuffix("| 2 of 3 runs bad |") })
    #expect(rows.contains { $0.hasPrefix("| 10 |") && $0.hasSuffix("| 3 of 3 runs bad |") })
    #expect(rows.contains { $0.hasPrefix("| 11 |") && $0.hasSuffix("| 3 of 3 runs good |") })
  }

  @Test("tells how the first-parent search blamed the merge and what was found inside it")
  func descent() throws {
    var summary = HuntSummary.parallelSample()
    let merge = summary.merge!
    var markdown = markdownReport(summary)
    #expect(markdown.contains("### How it was found"))
    #expect(
      markdown.contains(
        "The first-parent search blamed merge `\(merge.shortHash)` (pull request #146); inside it, "
          + "`\(summary.culprit!.shortHash)` Generalization cleanup broke it."))

    // The merge is the answer: the note says why, escaped, and ends the sentence once.
    summary.culprit = merge
    summary.merge = nil
    summary.descent!.innerCulprit = nil
    summary.descent!.note = "every commit it brought in tested good on its own: a *merge* problem."
    markdown = markdownReport(summary)
    #expect(
      markdown.contains(
        "The first-parent search blamed merge `\(merge.shortHash)` (pull request #146); the merge is the answer: "
          + "every commit it brought in tested good on its own: a \\*merge\\* problem.\n"))
    summary.descent!.pullRequest = nil
    summary.descent!.note = nil
    markdown = markdownReport(summary)
    #expect(
      markdown.contains(
        "blamed merge `\(merge.shortHash)` Merge pull request \\#146 from data-8/generalization-cleanup; "
          + "the merge is the answer.\n"))
    #expect(!markdownReport(.sample()).contains("How it was found"))
  }

  @Test("shows the culprit's probability, the runner-up and why the search stopped")
  func probability() {
    let summary = flakySummary()
    let runnerUp = summary.probability!.runnerUp!
    #expect(
      markdownReport(summary).contains(
        "Confidence: 99.73% (confidence reached, 23 test runs); runner-up `\(runnerUp.shortHash)` "
          + "README: mention the on-call channel at 0.21%."))
    var spent = summary
    spent.probability = ProbabilitySummary(probability: 0.62, reason: "budget-spent", testRuns: 1)
    #expect(markdownReport(spent).contains("Confidence: 62.00% (test budget spent, 1 test run).\n"))
    #expect(!markdownReport(.sample()).contains("Confidence:"))
  }

  @Test("shows the confirmation's runs per commit, and says when it does not hold")
  func confirmation() {
    var summary = HuntSummary.parallelSample()
    var markdown = markdownReport(summary)
    #expect(markdown.contains("### Confirmation\n\nThe answer holds: "))
    let culprit = summary.culprit!
    #expect(markdown.contains("| `\(culprit.shortHash)` | culprit | Generalization cleanup | 3 | 0 | 0 |"))
    #expect(
      markdown.contains(
        "| `\(summary.confirmation!.tallies[1].shortHash)` | parent | Merge pull request \\#144 from data-8/prod-storage | 0 | 3 | 0 |"
      ))
    summary.confirmation!.holds = false
    summary.confirmation!.tallies[0].good = 1
    markdown = markdownReport(summary)
    #expect(markdown.contains("The answer does not hold: "))
    #expect(markdown.contains("| `\(culprit.shortHash)` | culprit | Generalization cleanup | 3 | 1 | 0 |"))
    #expect(!markdownReport(.sample()).contains("Confirmation"))
  }
}
