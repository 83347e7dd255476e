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
      let verdict: HuntReport.StepVerdict =
        row.verdict.map { HuntReport.StepVerdict(rawValue: $0.rawValue) ?? .abort }
        ?? (row.note == "stopped" ? .stopped : .abort)
      return StepSummary(
        number: row.number, hash: row.commit, shortHash: String(row.commit.prefix(7)),
        subject: id.flatMap { info($0)?.summary } ?? "",
        purpose: HuntReport.StepPurpose(rawValue: row.purpose.rawValue) ?? .bisect, verdict: verdict,
        reused: row.reused, deploySeconds: row.deploySeconds, testSeconds: row.testSeconds,
        totalSeconds: row.endedAt.timeIntervalSince(row.startedAt),
        logTail: verdict == .good ? "" : logTail(of: row.logPath))
    }

    let outcome = hunt.outcome ?? "unfinished"
    var kind = OutcomeKind.stopped
    var text = outcome
    var culprit: CommitDetails?
    var merge: CommitDetails?
    var others = [CommitDetails]()
    let words = outcome.split(separator: " ").map(String.init)
    switch words.first ?? "" {
    case "culprit":
      kind = .culprit
      if let id = words.dropFirst().first.flatMap({ ObjectID(hex: $0) }) {
        culprit = details(id, files: true)
        merge = (try? repository.firstContaining(id, along: mainLine)).flatMap { $0 }.flatMap { details($0) }
        text = "The first bad commit is \(id.short()) \(culprit?.subject ?? "")"
      }
    case "culprit-among":
      kind = .culpritAmong
      others = words.dropFirst().compactMap { ObjectID(hex: $0) }.compactMap { details($0) }
      text = "Only skipped commits are left: the first bad commit is one of \(others.count)"
    case "no-regression": kind = .noRegression
    case "contradiction": kind = .contradiction
    case "nothing-to-search": kind = .nothingToSearch
    case "aborted:": kind = .aborted
    default: kind = .stopped
    }
    let started = hunt.startedAt
    return HuntSummary(
      title: "bisect-deploy hunt #\(hunt.id)", repository: hunt.repositoryPath, environment: hunt.environment,
      badHash: hunt.bad, goodHashes: hunt.goods, outcome: kind, outcomeText: text, culprit: culprit, merge: merge,
      pullRequest: merge.flatMap { pullRequestNumber(inMessage: $0.subject) }
        ?? culprit.flatMap { pullRequestNumber(inMessage: $0.subject) },
      otherPossibleCulprits: others, steps: steps,
      totalSeconds: (hunt.endedAt ?? Date()).timeIntervalSince(started), started: started,
      candidateCount: graph.candidateCount, timeline: timeline)
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
      guard let record = try hunt.flatMap({ try store.hunt(id: $0) }) ?? store.hunts(limit: 1).first else {
        throw CommandFailure(message: "No hunt recorded in this repository.", status: .usage)
      }
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
