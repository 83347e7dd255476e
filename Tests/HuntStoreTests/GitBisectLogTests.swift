import Foundation
import History
import HuntStore
import TestSupport
import Testing

@Suite struct GitBisectLogTests {
  struct Case: Sendable, CustomTestStringConvertible {
    var firstParent: Bool
    var paths: [String]
    var testDescription: String { "firstParent: \(firstParent), paths: \(paths)" }
  }

  /// Bisects a generated history with git itself (skipping the first commit it offers, and a
  /// fixed culprit deciding good or bad), records the same steps in the store, and checks that
  /// our log is git's own log (less its `# status:` lines), and that `git bisect replay` of
  /// our log, verification steps and an abort included, reaches the same first bad commit.
  @Test(
    arguments: [Case(firstParent: false, paths: []), Case(firstParent: true, paths: ["config", "hub"])],
    Backend.allCases)
  func theLogIsGitsOwnAndReplays(_ shape: Case, _ backend: Backend) async throws {
    let state = try TestState(backend)
    let folder = state.folder
    let repo = try makeHistory(HistoryShape(commits: 60, seed: 3), in: folder.directory.url)
    let mainLine = lines(try git(["rev-list", "--first-parent", "HEAD"], in: repo))
    let bad = mainLine[0]
    let good = mainLine[mainLine.count - 5]
    let culprit = mainLine[mainLine.count / 2]
    var subjects = [String: String]()
    for line in lines(try git(["log", "--format=%H %s", "HEAD"], in: repo)) {
      let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
      subjects[parts[0]] = parts.count > 1 ? parts[1] : ""
    }
    func isBad(_ commit: String) throws -> Bool {
      try runProcess(
        "/usr/bin/env", ["git", "merge-base", "--is-ancestor", culprit, commit], in: repo, environment: gitEnvironment
      ).status == 0
    }

    var startArguments = shape.firstParent ? ["--first-parent"] : []
    startArguments += [bad, good]
    if !shape.paths.isEmpty { startArguments += ["--"] + shape.paths }
    try git(["bisect", "start"] + startArguments, in: repo)
    var tested = [(commit: String, verdict: Verdict)]()
    while tested.count < 30 {
      let commit = try git(["rev-parse", "HEAD"], in: repo).trimmingCharacters(in: .whitespacesAndNewlines)
      let verdict: Verdict = tested.isEmpty ? .skip : try isBad(commit) ? .bad : .good
      tested.append((commit, verdict))
      let output = try git(["bisect", verdict.rawValue], in: repo)
      if output.contains("is the first bad commit") { break }
    }
    let gitLog = try git(["bisect", "log"], in: repo)
    let firstBad = try git(["rev-parse", "refs/bisect/bad"], in: repo).trimmingCharacters(in: .whitespacesAndNewlines)
    try git(["bisect", "reset"], in: repo)
    #expect(gitLog.contains("# first bad commit: [\(firstBad)]"))

    let store = try await state.open()
    let hunt = try await store.createHunt(
      sampleHunt(bad: bad, goods: [good], paths: shape.paths, firstParent: shape.firstParent))
    for (index, step) in tested.enumerated() {
      try await store.recordStep(
        StepRow(
          huntID: hunt.id, number: index + 1, commit: step.commit, environment: "staging", purpose: .bisect,
          verdict: step.verdict, startedAt: date(index), endedAt: date(index + 1)))
    }
    let ourLog = try await store.gitBisectLog(huntID: hunt.id, firstBadCommit: firstBad) { subjects[$0] }
    let expected = lines(gitLog).filter { !$0.hasPrefix("# status:") }
    #expect(lines(ourLog) == expected)

    // The same hunt with verification steps, an abort and a reused verdict, replayed by git.
    let full = try await store.createHunt(
      sampleHunt(bad: bad, goods: [good], paths: shape.paths, firstParent: shape.firstParent))
    var rows = [
      StepRow(
        huntID: full.id, number: 1, commit: bad, environment: "staging", purpose: .verifyBad, verdict: .bad,
        startedAt: date(0), endedAt: date(1)),
      StepRow(
        huntID: full.id, number: 2, commit: good, environment: "staging", purpose: .verifyGood, verdict: .good,
        startedAt: date(1), endedAt: date(2)),
      StepRow(
        huntID: full.id, number: 3, commit: tested[0].commit, environment: "staging", purpose: .bisect,
        verdict: nil, startedAt: date(2), endedAt: date(3), note: "deploy failed"),
    ]
    for (index, step) in tested.enumerated() {
      rows.append(
        StepRow(
          huntID: full.id, number: index + 4, commit: step.commit, environment: "staging", purpose: .bisect,
          verdict: step.verdict, startedAt: date(index), endedAt: date(index + 1), reused: index == 1))
    }
    for row in rows { try await store.recordStep(row) }
    let logFile = folder.directory.url.appendingPathComponent("hunt.log")
    try Data(try await store.gitBisectLog(huntID: full.id).utf8).write(to: logFile)
    try git(["bisect", "replay", logFile.path], in: repo)
    let replayed = try git(["bisect", "log"], in: repo)
    let replayedBad = try git(["rev-parse", "refs/bisect/bad"], in: repo).trimmingCharacters(
      in: .whitespacesAndNewlines)
    try git(["bisect", "reset"], in: repo)
    let commands = { (log: String) in lines(log).filter { $0.hasPrefix("git bisect ") } }
    let again = try await store.gitBisectLog(huntID: full.id)
    #expect(commands(replayed) == commands(again))
    #expect(commands(replayed).count == 1 + tested.count + 2)
    #expect(replayedBad == firstBad)
    #expect(replayed.contains("# first bad commit: [\(firstBad)]"))
  }

  @Test(arguments: Backend.allCases) func startArgumentsAreQuotedAsGitQuotesThem(_ backend: Backend) async throws {
    let store = try await TestState(backend).open()
    let hunt = try await store.createHunt(sampleHunt(paths: ["it's", "a!b", "plain dir"], firstParent: true))
    let log = try await store.gitBisectLog(huntID: hunt.id)
    let bad = String(repeating: "b", count: 40)
    let good = String(repeating: "a", count: 40)
    #expect(
      log == """
        # bad: [\(bad)]
        # good: [\(good)]
        git bisect start '--first-parent' '\(bad)' '\(good)' '--' 'it'\\''s' 'a'\\!'b' 'plain dir'

        """)
    await #expect(throws: StoreError.unknownHunt(id: 77, path: store.location)) {
      _ = try await store.gitBisectLog(huntID: 77)
    }
  }
}
