import Foundation
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
