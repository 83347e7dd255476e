import Foundation
import GitKit
import History
import HuntReport
import HuntStore
import Runner

/// Builds a report of a stored hunt from the state database and the repository.
public enum ReportBuilder {
  /// Commits drawn in the picture at most; larger ranges show their newest part.
  static let timelineLimit = 3000

  /// The summary of stored hunt `hunt`: its steps from `store`, the commits' facts from
  /// `repository`. Reports and notifications are made from it.
  ///
  /// - Parameter dependencies: the histories of the dependencies (`--descend-deps`), by
  ///   name, for their commits' facts; without one, its commits are named by hash only.
  public static func summary(
    of hunt: HuntRecord, store: any StateStore, repository: Repository, dependencies: [String: Repository] = [:]
  ) async throws -> HuntSummary {
    var facts = [ObjectID: CommitInfo]()
    func info(_ id: ObjectID, in dependency: String? = nil) -> CommitInfo? {
      if let known = facts[id] { return known }
      let source = dependency.map { dependencies[$0] } ?? repository
      let found = try? source?.commit(id)
      facts[id] = found
      return found
    }
    func details(_ id: ObjectID, files: Bool = false, in dependency: String? = nil) -> CommitDetails? {
      guard let commit = info(id, in: dependency) else { return nil }
      let body = commit.message.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        .dropFirst().joined().trimmingCharacters(in: .whitespacesAndNewlines)
      let changed = files && dependency == nil ? ((try? repository.changedFiles(of: id)) ?? []) : []
      return CommitDetails(
        hash: id.hex, shortHash: id.short(), subject: commit.summary, authorName: commit.author.name,
        authorEmail: commit.author.email, authorDate: Date(timeIntervalSince1970: TimeInterval(commit.author.time)),
        body: body,
        changedFiles: changed.map {
          ChangedFile(status: String($0.kind.rawValue.prefix(1)).uppercased(), path: $0.path)
        })
    }

    guard let bad = ObjectID(hex: hunt.bad) else {
      throw ReportError.damagedHunt(id: hunt.id, field: "bad", value: hunt.bad)
    }
    var goods = [ObjectID]()
    for good in hunt.goods {
      guard let id = ObjectID(hex: good) else { throw ReportError.damagedHunt(id: hunt.id, field: "good", value: good) }
      goods.append(id)
    }
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

    let rows = try await store.steps(huntID: hunt.id)
    let steps = rows.map { row -> StepSummary in
      let id = ObjectID(hex: row.commit)
      let note = StepNote(row.note)
      let end: StepEnd = row.verdict.map(StepEnd.init) ?? (note.others.contains("stopped") ? .stopped : .abort)
      return StepSummary(
        number: row.number, hash: row.commit, shortHash: String(row.commit.prefix(7)),
        subject: id.flatMap { info($0, in: row.purpose.deploysDependency ? row.dependency : nil)?.summary } ?? "",
        purpose: row.purpose, verdict: end,
        reused: row.reused, deploySeconds: row.deploySeconds, testSeconds: row.testSeconds,
        totalSeconds: row.endedAt.timeIntervalSince(row.startedAt),
        logTail: end == .good && !note.moved ? "" : logTail(of: row.logPath),
        // A reused verdict deployed nothing: its row holds the hunt's environment (or list).
        environment: row.reused ? "" : row.environment, moved: note.moved,
        runVerdicts: note.runs, dependency: row.dependency, revision: row.dependencyRevision)
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
        }, reason: found.reason, testRuns: found.testRuns, deploys: found.deploys, failsAfter: found.failsAfter,
        failsBefore: found.failsBefore, badEnd: found.badEnd, goodEnd: found.goodEnd)
    }

    // --confirm N: the runs on the culprit and its parents, from the confirmation steps.
    let confirmation = outcome.confirmationHolds.map { holds in
      var tallies = [ConfirmationTally]()
      for step in steps where step.purpose == .confirm && !step.moved {
        let runs = step.runVerdicts.isEmpty ? [step.verdict] : step.runVerdicts.map(StepEnd.init)
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

    // --descend-deps: what was found inside each dependency whose pin the culprit changed.
    let dependencySummaries = outcome.dependencies.map { stored -> DependencySummary in
      var found = DependencySummary(name: stored.name, old: stored.old, new: stored.new, answer: "")
      switch stored.result {
      case .culprit(let commit, let version, let merge, let note):
        found.answer = "found"
        found.commitHash = commit
        found.version = version
        found.note = note
        found.commit = ObjectID(hex: commit).flatMap { details($0, in: stored.name) }
        found.merge = merge.flatMap { ObjectID(hex: $0) }.flatMap { details($0, in: stored.name) }
        found.pullRequest =
          found.merge.flatMap { pullRequestNumber(inMessage: $0.subject) }
          ?? found.commit.flatMap { pullRequestNumber(inMessage: $0.subject) }
      case .merge(let merge, let note):
        found.answer = "merge"
        found.commitHash = merge
        found.note = note
        found.commit = ObjectID(hex: merge).flatMap { details($0, in: stored.name) }
        found.pullRequest = found.commit.flatMap { pullRequestNumber(inMessage: $0.subject) }
      case .notTheCause(let note):
        found.answer = "not-the-cause"
        found.note = note
      case .notDescended(let note):
        found.answer = "not-descended"
        found.note = note
      case .inconclusive(let note):
        found.answer = "inconclusive"
        found.note = note
      }
      return found
    }
    // --confirm-revert: bad with the culprit reverted; why it was not tested, from its step.
    let revert = outcome.revert.flatMap { found -> RevertSummary? in
      guard let result = RevertSummary.Result(rawValue: found.result.rawValue) else { return nil }
      let note = rows.last { $0.purpose == .revert }.map { StepNote($0.note).others.joined(separator: "; ") }
      let made = found.commit != nil
      return RevertSummary(
        result: result, culprit: culprit?.shortHash ?? "the culprit", bad: String(hunt.bad.prefix(7)),
        commit: found.commit, reference: made ? OutcomeText.Revert.reference(hunt: hunt.id) : nil, files: found.files,
        reason: result == .untested ? (note?.isEmpty == false ? note : nil) : nil)
    }

    let started = hunt.startedAt
    var summary = HuntSummary(
      title: "bisect-deploy hunt #\(hunt.id)", repository: hunt.repositoryPath, environment: hunt.environment,
      badHash: hunt.bad, goodHashes: hunt.goods, outcome: OutcomeKind(outcome.kind),
      outcomeText: text, culprit: culprit,
      merge: merge,
      pullRequest: merge.flatMap { pullRequestNumber(inMessage: $0.subject) }
        ?? culprit.flatMap { pullRequestNumber(inMessage: $0.subject) },
      otherPossibleCulprits: others, steps: steps,
      totalSeconds: (hunt.endedAt ?? Date()).timeIntervalSince(started), started: started,
      candidateCount: graph.candidateCount, timeline: timeline, descent: descent, probability: probabilitySummary,
      confirmation: confirmation)
    summary.dependencies = dependencySummaries
    summary.revert = revert
    return summary
  }

  /// The end of the last failing command's log in a step's log folder.
  static func logTail(of folder: String?) -> String {
    guard let folder else { return "" }
    let url = URL(fileURLWithPath: folder)
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    let chosen = names.contains("test.log") ? "test.log" : names.last { $0.hasPrefix("deploy") }
    guard let chosen else { return "" }
    // The command's output only: the runner's own lines hold the command text, which may
    // hold a secret typed into it, and a report is made to be shared.
    return Runner.logTail(url.appendingPathComponent(chosen), lines: 24).split(separator: "\n")
      .filter { !$0.hasPrefix("[bisect-deploy ") }.suffix(20).joined(separator: "\n")
  }

  /// Writes the report as Markdown or HTML, chosen by the file's extension.
  public static func write(_ summary: HuntSummary, to path: String) throws(ReportError) {
    let lower = path.lowercased()
    let text: String
    if lower.hasSuffix(".html") || lower.hasSuffix(".htm") {
      text = htmlReport(summary)
    } else if lower.hasSuffix(".md") || lower.hasSuffix(".markdown") {
      text = markdownReport(summary)
    } else {
      throw .unknownFormat(path: path)
    }
    do {
      try text.write(toFile: path, atomically: true, encoding: .utf8)
    } catch {
      throw .cannotWrite(path: path, reason: error.localizedDescription)
    }
  }
}

/// Why a report could not be made or written; each case names what to fix.
public enum ReportError: Error, Sendable, LocalizedError {
  /// A stored hunt's field does not hold what it should.
  case damagedHunt(id: Int64, field: String, value: String)
  /// The path ends in neither `.md` nor `.html`.
  case unknownFormat(path: String)
  case cannotWrite(path: String, reason: String)

  public var errorDescription: String? {
    switch self {
    case .damagedHunt(let id, let field, let value):
      "Hunt #\(id) is damaged: its \(field) is '\(value)'."
    case .unknownFormat(let path): "The report '\(path)' must end in .md (Markdown) or .html."
    case .cannotWrite(let path, let reason): "Cannot write the report '\(path)': \(reason)."
    }
  }
}

extension OutcomeKind {
  /// The report's outcome for a stored one: every stored kind has its own, no default.
  init(_ kind: OutcomeText.Kind) {
    switch kind {
    case .culprit: self = .culprit
    case .culpritAmong: self = .culpritAmong
    case .noRegression: self = .noRegression
    case .contradiction: self = .contradiction
    case .nothingToSearch: self = .nothingToSearch
    case .aborted: self = .aborted
    case .stopped: self = .stopped
    }
  }
}
