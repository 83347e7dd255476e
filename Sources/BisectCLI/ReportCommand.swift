import ArgumentParser
import Foundation
import GitKit
import History
import HuntReport
import HuntStore
import Runner

/// Builds a report of a stored hunt from the state database and the repository.
enum ReportBuilder {
  /// Commits drawn in the picture at most; larger ranges show their newest part.
  static let timelineLimit = 3000

  static func summary(of hunt: HuntRecord, store: StateStore, repository: Repository) throws -> HuntSummary {
    var facts = [ObjectID: CommitInfo]()
    func info(_ id: ObjectID) -> CommitInfo? {
      if let known = facts[id] { return known }
      let found = try? repository.commit(id)
      facts[id] = found
      return found
    }
    func details(_ id: ObjectID, files: Bool = false) -> CommitDetails? {
      guard let commit = info(id) else { return nil }
      let body = commit.message.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        .dropFirst().joined().trimmingCharacters(in: .whitespacesAndNewlines)
      let changed = files ? ((try? repository.changedFiles(of: id)) ?? []) : []
      return CommitDetails(
        hash: id.hex, shortHash: id.short(), subject: commit.summary, authorName: commit.author.name,
        authorEmail: commit.author.email, authorDate: Date(timeIntervalSince1970: TimeInterval(commit.author.time)),
        body: body,
        changedFiles: changed.map {
          ChangedFile(status: String($0.kind.rawValue.prefix(1)).uppercased(), path: $0.path)
        })
    }

    guard let bad = ObjectID(hex: hunt.bad) else {
      throw CommandFailure(message: "Hunt #\(hunt.id) is damaged.", status: .stateError)
    }
    let goods = hunt.goods.compactMap { ObjectID(hex: $0) }
    let graph = try repository.commitGraph(bad: bad, goods: goods, paths: hunt.paths, firstParent: hunt.firstParent)
    let mainLine = graph.firstParentChain().ids

    // The picture: the range, children first, with the good boundary so its check is drawn.
    let shown = min(graph.count, timelineLimit)
    let chain = Set(mainLine)
    var timeline = (0..<shown).map { number -> TimelineCommit in
      let id = graph.ids[number]
      return TimelineCommit(
        hash: id.hex, shortHash: id.short(), subject: info(id)?.summary ?? "",
        date: Date(timeIntervalSince1970: TimeInterval(graph.commitTimes[number])), isFirstParent: chain.contains(id),
        parents: graph.parents(of: number).filter { $0 < shown })
    }
    if let good = goods.first, let commit = info(good), shown == graph.count {
      let index = timeline.count
      timeline.append(
        TimelineCommit(
          hash: good.hex, shortHash: good.short(), subject: commit.summary,
          date: Date(timeIntervalSince1970: TimeInterval(commit.committer.time)), isFirstParent: true, parents: []))
      if let oldest = mainLine.last.flatMap({ graph.number(of: $0) }) { timeline[oldest].parents.append(index) }
    }

    let steps = try store.steps(huntID: hunt.id).map { row -> StepSummary in
      let id = ObjectID(hex: row.commit)
      let note = StepNote(row.note)
      let verdict: HuntReport.StepVerdict =
        row.verdict.map { HuntReport.StepVerdict(rawValue: $0.rawValue) ?? .abort }
        ?? (note.others.contains("stopped") ? .stopped : .abort)
      return StepSummary(
        number: row.number, hash: row.commit, shortHash: String(row.commit.prefix(7)),
        subject: id.flatMap { info($0)?.summary } ?? "",
        purpose: HuntReport.StepPurpose(rawValue: row.purpose.rawValue) ?? .bisect, verdict: verdict,
        reused: row.reused, deploySeconds: row.deploySeconds, testSeconds: row.testSeconds,
        totalSeconds: row.endedAt.timeIntervalSince(row.startedAt),
        logTail: verdict == .good && !note.moved ? "" : logTail(of: row.logPath),
        // A reused verdict deployed nothing: its row holds the hunt's environment (or list).
        environment: row.reused ? "" : row.environment, moved: note.moved,
        runVerdicts: note.runs.compactMap { HuntReport.StepVerdict(rawValue: $0.rawValue) })
    }

    let outcome = OutcomeText(hunt.outcome ?? "unfinished")
    var text = outcome.first
    var culprit: CommitDetails?
    var merge: CommitDetails?
    var others = [CommitDetails]()
    let ids = outcome.commits.compactMap { ObjectID(hex: $0) }
    let probability = outcome.probability
    switch outcome.kind {
    case .culprit:
      if let id = ids.first {
        culprit = details(id, files: true)
        merge = (try? repository.firstContaining(id, along: mainLine)).flatMap { $0 }.flatMap { details($0) }
        text = "The first bad commit is \(id.short()) \(culprit?.subject ?? "")"
        if let probability { text += " (probability \(percentText(probability.probability)))" }
      }
    case .culpritAmong:
      others = ids.compactMap { details($0) }
      if let probability, ids.count >= 2 {
        let named = zip(ids, [probability.probability, probability.runnerUpProbability]).map { id, chance in
          "\(id.short()) \(info(id)?.summary ?? "")" + (chance.map { " (\(percentText($0)))" } ?? "")
        }
        text = "No commit reached the confidence: the most likely are \(named[0]) and \(named[1])"
      } else {
        text = "Only skipped commits are left: the first bad commit is one of \(others.count)"
      }
    default:
      break
    }

    // --descend: the merge the first-parent search blamed, and the commit inside it.
    var descent: DescentSummary?
    if let found = outcome.descent, let id = ObjectID(hex: found.merge), let mergeDetails = details(id) {
      let inside = culprit.flatMap { $0.hash == mergeDetails.hash ? nil : $0 }
      descent = DescentSummary(
        merge: mergeDetails, pullRequest: pullRequestNumber(inMessage: mergeDetails.subject), innerCulprit: inside,
        note: found.note)
      if inside != nil { merge = mergeDetails }
    }

    let probabilitySummary = probability.map { found in
      ProbabilitySummary(
        probability: found.probability,
        runnerUp: found.runnerUp.flatMap { hex in
          found.runnerUpProbability.map { chance in
            let id = ObjectID(hex: hex)
            return ProbableCulprit(
              hash: hex, shortHash: id?.short() ?? String(hex.prefix(7)),
              subject: id.flatMap { info($0)?.summary } ?? "", probability: chance)
          }
        }, reason: found.reason, testRuns: found.testRuns)
    }

    // --confirm N: the runs on the culprit and its parents, from the confirmation steps.
    let confirmation = outcome.confirmationHolds.map { holds in
      var tallies = [ConfirmationTally]()
      for step in steps where step.purpose == .confirm && !step.moved {
        let runs = step.runVerdicts.isEmpty ? [step.verdict] : step.runVerdicts
        if !tallies.contains(where: { $0.hash == step.hash }) {
          tallies.append(
            ConfirmationTally(
              hash: step.hash, shortHash: step.shortHash, subject: step.subject,
              isCulprit: step.hash == culprit?.hash, bad: 0, good: 0, skipped: 0))
        }
        let index = tallies.firstIndex { $0.hash == step.hash }!
        tallies[index].bad += runs.count { $0 == .bad }
        tallies[index].good += runs.count { $0 == .good }
        tallies[index].skipped += runs.count { $0 == .skip }
      }
      return ConfirmationSummary(holds: holds, tallies: tallies.filter(\.isCulprit) + tallies.filter { !$0.isCulprit })
    }

    let started = hunt.startedAt
    return HuntSummary(
      title: "bisect-deploy hunt #\(hunt.id)", repository: hunt.repositoryPath, environment: hunt.environment,
      badHash: hunt.bad, goodHashes: hunt.goods, outcome: OutcomeKind(rawValue: outcome.kind.rawValue) ?? .stopped,
      outcomeText: text, culprit: culprit,
      merge: merge,
      pullRequest: merge.flatMap { pullRequestNumber(inMessage: $0.subject) }
        ?? culprit.flatMap { pullRequestNumber(inMessage: $0.subject) },
      otherPossibleCulprits: others, steps: steps,
      totalSeconds: (hunt.endedAt ?? Date()).timeIntervalSince(started), started: started,
      candidateCount: graph.candidateCount, timeline: timeline, descent: descent, probability: probabilitySummary,
      confirmation: confirmation)
  }

  /// The end of the last failing command's log in a step's log folder.
  static func logTail(of folder: String?) -> String {
    guard let folder else { return "" }
    let url = URL(fileURLWithPath: folder)
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    let chosen = names.contains("test.log") ? "test.log" : names.last { $0.hasPrefix("deploy") }
    guard let chosen else { return "" }
    return Runner.logTail(url.appendingPathComponent(chosen), lines: 20)
  }

  /// Writes the report as Markdown or HTML, chosen by the file's extension.
  static func write(_ summary: HuntSummary, to path: String) throws {
    let lower = path.lowercased()
    let text: String
    if lower.hasSuffix(".html") || lower.hasSuffix(".htm") {
      text = htmlReport(summary)
    } else if lower.hasSuffix(".md") || lower.hasSuffix(".markdown") {
      text = markdownReport(summary)
    } else {
      throw CommandFailure(message: "--report '\(path)': name a .html or .md file.", status: .usage)
    }
    try text.write(toFile: path, atomically: true, encoding: .utf8)
  }
}

/// `bisect-deploy report`: the report of a past hunt.
struct ReportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "report", abstract: "Write the report of a hunt: Markdown to paste, or a self-contained HTML page.")

  @OptionGroup var options: StateOptions
  @Option(help: "The hunt's number (default: the newest; see bisect-deploy hunts).") var hunt: Int64?
  @Option(name: .shortAndLong, help: "Write to this .html or .md file (default: Markdown on standard output).")
  var output: String?

  func run() throws {
    do {
      let (repository, store) = try options.open()
      let record = try options.storedHunt(hunt, in: store)
      let summary = try ReportBuilder.summary(of: record, store: store, repository: repository)
      if let output {
        try ReportBuilder.write(summary, to: output)
        printError("wrote \(output)")
      } else {
        print(markdownReport(summary), terminator: "")
      }
    } catch let failure as CommandFailure {
      throw failure
    } catch {
      throw CommandFailure(error)
    }
  }
}
