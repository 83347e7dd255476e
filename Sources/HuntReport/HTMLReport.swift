import Foundation
import History

/// The hunt as one self-contained HTML5 page: inline CSS, an inline SVG picture of the search,
/// no scripts and no external references of any kind (fonts, images, links).
///
/// The markup is also well-formed XML (every element closed, attributes quoted, only XML's
/// own entities), so it can be checked with an XML parser or embedded in XHTML.
public func htmlReport(_ summary: HuntSummary) -> String {
  var page = ""
  page.reserveCapacity(16_384 + summary.timeline.count * 200)
  let title = "\(summary.title): \(summary.outcome.heading)"
  page += "<!DOCTYPE html>\n"
  page += "<html xmlns='http://www.w3.org/1999/xhtml' lang='en'>\n<head>\n"
  page += "<meta charset='utf-8'/>\n"
  page += "<meta name='viewport' content='width=device-width, initial-scale=1'/>\n"
  page += "<title>\(htmlEscaped(title))</title>\n"
  page += "<style>\(styleSheet)</style>\n</head>\n<body>\n"

  page += "<header>\n<h1>\(htmlEscaped(summary.title))</h1>\n"
  page += "<p class='outcome outcome-\(summary.outcome.rawValue)'><strong>\(htmlEscaped(summary.outcome.heading))"
  page += "</strong>: \(htmlEscaped(summary.outcomeText))</p>\n"
  page += "<dl class='facts'>\n"
  page += fact("Repository", "<code>\(htmlEscaped(summary.repository))</code>")
  let environments = summary.environments
  if environments.count > 1 {
    page += fact("Environments", environments.map { "<code>\(htmlEscaped($0))</code>" }.joined(separator: " "))
  } else {
    page += fact("Environment", "<code>\(htmlEscaped(summary.environment))</code>")
  }
  page += fact("Bad", "<code>\(htmlEscaped(summary.badHash))</code>")
  if !summary.goodHashes.isEmpty {
    page += fact("Good", summary.goodHashes.map { "<code>\(htmlEscaped($0))</code>" }.joined(separator: " "))
  }
  page += fact("Started", htmlEscaped(dateTimeText(summary.started)))
  page += fact("Duration", htmlEscaped(durationText(summary.totalSeconds)))
  page += fact("Candidates", "\(summary.candidateCount)")
  page += fact("Steps", "\(summary.steps.count)")
  if let probability = summary.probability {
    var value = htmlEscaped(confidenceText(probability))
    if let runnerUp = probability.runnerUp {
      value += "; runner-up <code title='\(htmlEscaped(runnerUp.hash))'>\(htmlEscaped(runnerUp.shortHash))</code>"
      if !runnerUp.subject.isEmpty { value += " “\(htmlEscaped(runnerUp.subject))”" }
      value += " at \(htmlEscaped(percentText(runnerUp.probability)))"
    }
    page += fact("Confidence", value)
    let code = { (hash: String) in "<code>\(htmlEscaped(hash))</code>" }
    if let rates = failureRateText(probability, culprit: summary.culprit?.shortHash, code: code) {
      page += fact("Failure rate", rates)
    }
  }
  page += "</dl>\n</header>\n"

  page += "<section class='picture-section'>\n<h2>The search</h2>\n"
  page += "<div class='picture'>\(searchPicture(summary))</div>\n"
  page += legend(showsMoved: summary.steps.contains { $0.moved })
  page += "</section>\n"

  if let culprit = summary.culprit {
    page += "<section class='culprit'>\n"
    page += "<h2>\(summary.outcome == .culpritAmong ? "Possible culprit" : "Culprit")</h2>\n"
    page += commitBlock(culprit)
    if let merge = summary.merge {
      page += "<p class='merge'>Landed by merge <code>\(htmlEscaped(merge.shortHash))</code> "
      page += "“\(htmlEscaped(merge.subject))”"
      if let number = summary.pullRequest { page += " (pull request <strong>#\(number)</strong>)" }
      page += ", \(htmlEscaped(dateTimeText(merge.authorDate))).</p>\n"
    } else if let number = summary.pullRequest {
      page += "<p class='merge'>Pull request <strong>#\(number)</strong>.</p>\n"
    }
    if !culprit.changedFiles.isEmpty {
      page += "<h3>Changed files</h3>\n<ul class='files'>\n"
      for file in culprit.changedFiles {
        page += "<li><span class='status'>\(htmlEscaped(file.status))</span> "
        page += "<code>\(htmlEscaped(file.path))</code></li>\n"
      }
      page += "</ul>\n"
    }
    page += "</section>\n"
  }
  if let descent = summary.descent {
    page += "<section class='descent'>\n<h2>How it was found</h2>\n"
    page += "<p class='descent'>The first-parent search blamed merge "
    page += "<code title='\(htmlEscaped(descent.merge.hash))'>\(htmlEscaped(descent.merge.shortHash))</code>"
    if let number = descent.pullRequest {
      page += " (pull request <strong>#\(number)</strong>)"
    } else {
      page += " “\(htmlEscaped(descent.merge.subject))”"
    }
    if let inner = descent.innerCulprit {
      page += "; inside it, <code title='\(htmlEscaped(inner.hash))'>\(htmlEscaped(inner.shortHash))</code> "
      page += "“\(htmlEscaped(inner.subject))” broke it.</p>\n"
    } else if let note = descent.note {
      page += "; the merge is the answer: \(htmlEscaped(sentence(note)))</p>\n"
    } else {
      page += "; the merge is the answer.</p>\n"
    }
    page += "</section>\n"
  }
  if !summary.dependencies.isEmpty {
    page += "<section class='dependencies'>\n<h2>Inside the dependencies</h2>\n<ul>\n"
    for dependency in summary.dependencies {
      page += "<li class='dependency-\(htmlEscaped(dependency.answer))'>\(htmlEscaped(sentence(dependency.sentence)))"
      if let commit = dependency.commit {
        page += " <code title='\(htmlEscaped(commit.hash))'>\(htmlEscaped(commit.hash))</code>, "
        page += "\(htmlEscaped(commit.authorName)), \(htmlEscaped(dateTimeText(commit.authorDate)))"
      }
      page += "</li>\n"
    }
    page += "</ul>\n</section>\n"
  }
  if !summary.otherPossibleCulprits.isEmpty {
    page += "<section class='possible'>\n"
    page += "<h2>\(summary.culprit == nil ? "Possible culprits" : "Other possible culprits")</h2>\n"
    for commit in summary.otherPossibleCulprits { page += commitBlock(commit) }
    page += "</section>\n"
  }

  if !summary.steps.isEmpty {
    page += "<section class='steps'>\n<h2>Steps</h2>\n"
    let showsEnvironment = showsEnvironmentColumn(summary)
    page += "<table>\n<thead><tr><th>Step</th><th>Commit</th>\(showsEnvironment ? "<th>Env</th>" : "")"
    page += "<th>Subject</th><th>Purpose</th><th>Verdict</th>"
    page += "<th>Deploy (s)</th><th>Test (s)</th><th>Total</th><th>Notes</th></tr></thead>\n<tbody>\n"
    for step in summary.steps {
      page += "<tr class='\(step.moved ? "moved" : "verdict-\(step.verdict.word)")'>"
      page += "<td class='number'>\(step.number)</td>"
      page += "<td><code title='\(htmlEscaped(step.hash))'>\(htmlEscaped(step.shortHash))</code></td>"
      if showsEnvironment {
        page += "<td class='environment'>"
        page += step.environment.isEmpty ? "–" : "<code>\(htmlEscaped(step.environment))</code>"
        page += "</td>"
      }
      page += "<td>\(htmlEscaped(step.subject))</td>"
      page += "<td>\(step.purpose.rawValue)</td>"
      page += "<td><span class='verdict' style='background:\(stepColour(step))'>"
      page += "\(htmlEscaped(verdictWord(step)))</span></td>"
      page += "<td class='number'>\(secondsText(step.deploySeconds))</td>"
      page += "<td class='number'>\(secondsText(step.testSeconds))</td>"
      page += "<td class='number'>\(htmlEscaped(durationText(step.totalSeconds)))</td>"
      page += "<td>\(htmlEscaped(notesText(step)))</td></tr>\n"
    }
    let deploy = summary.steps.compactMap(\.deploySeconds).reduce(0, +)
    let test = summary.steps.compactMap(\.testSeconds).reduce(0, +)
    page += "</tbody>\n</table>\n"
    page += "<p class='time'>Time spent: \(htmlEscaped(durationText(summary.totalSeconds))) in all; deploying "
    page += "\(htmlEscaped(durationText(deploy))), testing \(htmlEscaped(durationText(test))).</p>\n"
    page += "</section>\n"
  }
  if let confirmation = summary.confirmation { page += confirmationSection(confirmation) }
  if let revert = summary.revert {
    page += "<section class='revert'>\n<h2>Revert proof</h2>\n"
    page += "<p class='revert \(revert.result.rawValue)'>\(htmlEscaped(revert.sentence))</p>\n"
    if let commit = revert.commit, let reference = revert.reference {
      page +=
        "<p>The revert commit <code title='\(htmlEscaped(commit))'>\(htmlEscaped(String(commit.prefix(10))))</code>"
      page += " is kept as <code>\(htmlEscaped(reference))</code>.</p>\n"
    }
    if let next = revert.nextStep { page += "<p>\(htmlEscaped(next)).</p>\n" }
    page += "</section>\n"
  }
  let logged = summary.steps.filter { !$0.logTail.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
  if !logged.isEmpty {
    page += "<section class='logs'>\n<h2>Logs</h2>\n"
    for step in logged {
      page += "<details class='log \(step.moved ? "moved" : "verdict-\(step.verdict.word)")'><summary>"
      page += "Step \(step.number): <code>\(htmlEscaped(step.shortHash))</code> \(htmlEscaped(step.subject)) "
      page += "(\(htmlEscaped(verdictWord(step))))</summary><pre>\(htmlEscaped(step.logTail))</pre></details>\n"
    }
    page += "</section>\n"
  }
  page += "<footer>Made by bisect-deploy.</footer>\n</body>\n</html>\n"
  return page
}

private func fact(_ name: String, _ valueHTML: String) -> String {
  "<dt>\(name)</dt><dd>\(valueHTML)</dd>\n"
}

private func confirmationSection(_ confirmation: ConfirmationSummary) -> String {
  var html = "<section class='confirmation'>\n<h2>Confirmation</h2>\n"
  html += "<p class='confirmation \(confirmation.holds ? "holds" : "does-not-hold")'>"
  html += "\(htmlEscaped(confirmationSentence(confirmation)))</p>\n"
  if !confirmation.tallies.isEmpty {
    html += "<table class='tallies'>\n<thead><tr><th>Commit</th><th>Role</th><th>Subject</th><th>Bad runs</th>"
    html += "<th>Good runs</th><th>Skipped runs</th></tr></thead>\n<tbody>\n"
    for tally in confirmation.tallies {
      html += "<tr class='\(tally.isCulprit ? "culprit" : "parent")'>"
      html += "<td><code title='\(htmlEscaped(tally.hash))'>\(htmlEscaped(tally.shortHash))</code></td>"
      html += "<td>\(tally.isCulprit ? "culprit" : "parent")</td><td>\(htmlEscaped(tally.subject))</td>"
      html += "<td class='number'>\(tally.bad)</td><td class='number'>\(tally.good)</td>"
      html += "<td class='number'>\(tally.skipped)</td></tr>\n"
    }
    html += "</tbody>\n</table>\n"
  }
  html += "</section>\n"
  return html
}

private func commitBlock(_ commit: CommitDetails) -> String {
  var html = "<div class='commit'>\n"
  html += "<p class='subject'><code>\(htmlEscaped(commit.shortHash))</code> "
  html += "<strong>\(htmlEscaped(commit.subject))</strong></p>\n"
  html += "<p class='meta'>\(htmlEscaped(commit.authorName)) &lt;\(htmlEscaped(commit.authorEmail))&gt;, "
  html += "\(htmlEscaped(dateTimeText(commit.authorDate)))<br/>commit <code>\(htmlEscaped(commit.hash))</code></p>\n"
  let body = commit.body.trimmingCharacters(in: .whitespacesAndNewlines)
  if !body.isEmpty { html += "<pre class='body'>\(htmlEscaped(body))</pre>\n" }
  html += "</div>\n"
  return html
}

private func legend(showsMoved: Bool) -> String {
  let items: [(String, String)] = [
    ("good", verdictColour(.good)), ("bad", verdictColour(.bad)), ("skipped", verdictColour(.skip)),
    ("aborted or stopped", verdictColour(.abort)),
  ]
  var html = "<ul class='legend'>\n"
  for (name, colour) in items {
    html += "<li><span class='swatch' style='background:\(colour)'></span>\(name) (step number inside)</li>\n"
  }
  if showsMoved {
    html += "<li><span class='swatch moved'></span>deploy failed there, moved to another environment</li>\n"
  }
  html += "<li><span class='swatch ring'></span>culprit</li>\n"
  html += "<li><span class='swatch dot'></span>untested commit</li>\n"
  html += "<li>Oldest on the left, the bad commit on the right; first-parent history on the middle lane, "
  html += "side branches above and below. Hover for hashes and subjects.</li>\n"
  html += "</ul>\n"
  return html
}

// No '<' or '&' in here: the page must stay well-formed XML.
private let styleSheet = """
  body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:1.5em auto;max-width:1100px;
  padding:0 1em;color:#1f2328;line-height:1.45}
  h1{font-size:1.6em;margin:0 0 .3em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #d8dee4}
  h3{font-size:1.05em}code,pre{font-family:ui-monospace,'SF Mono',Menlo,Consolas,monospace;font-size:.9em}
  .outcome{padding:.6em .8em;border-radius:6px;background:#f3f4f6;border-left:5px solid #7b7b7b}
  .outcome-culprit,.outcome-culprit-among{border-left-color:#c62828;background:#fdecea}
  .outcome-no-regression{border-left-color:#2e7d32;background:#e8f5e9}
  .facts{display:grid;grid-template-columns:max-content auto;gap:.15em 1em;margin:.8em 0}
  .facts dt{color:#57606a}.facts dd{margin:0}
  .picture{overflow-x:auto;border:1px solid #d8dee4;border-radius:6px;padding:6px;background:#fff}
  .picture svg{display:block}
  .legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.4em 1.2em;font-size:.9em;color:#57606a}
  .swatch{display:inline-block;width:12px;height:12px;border-radius:50%;margin-right:.35em;vertical-align:-1px}
  .swatch.ring{border:2.5px solid #4a148c;width:9px;height:9px}
  .swatch.moved{border:1.5px dashed #5c6bc0;width:10px;height:10px}
  .swatch.dot{background:#9aa5b1;width:6px;height:6px;vertical-align:1px}
  .commit{border:1px solid #d8dee4;border-radius:6px;padding:.2em .9em;margin:.6em 0}
  .meta{color:#57606a}pre{background:#f6f8fa;padding:.7em;border-radius:6px;overflow-x:auto;white-space:pre}
  .files{padding-left:1.2em}.status{display:inline-block;width:1.4em;font-weight:bold;font-family:monospace}
  table{border-collapse:collapse;width:100%;font-size:.92em}
  th,td{border-bottom:1px solid #d8dee4;padding:.3em .5em;text-align:left;vertical-align:top}
  td.number{text-align:right;font-variant-numeric:tabular-nums}
  .verdict{color:#fff;border-radius:4px;padding:0 .45em;font-size:.9em}
  details.log{margin:.4em 0}details.log summary{cursor:pointer}
  footer{margin-top:2em;color:#8c959f;font-size:.85em}
  """
