import Foundation
import History
import HuntKit
import Runner
import Synchronization
import TestSupport
import Testing

/// The hunt's core in-process, without the executable: a real repository, a real state
/// database and real shell commands, run by the real runner through the session's
/// `CommandRunner` seam (wrapped only to see what it was asked to run).
@Suite struct RoundTests {
  /// What the runner was asked: "phase environment commit" per command, in order.
  final class Calls: Sendable {
    private let list = Mutex<[String]>([])
    var all: [String] { list.withLock { $0 } }
    func append(_ call: String) { list.withLock { $0.append(call) } }
  }

  /// A 40-commit linear history, a state file and environments `names`.
  struct Bench {
    let directory: TemporaryDirectory
    let repo: URL
    let calls = Calls()
    let events = Calls()

    init() throws {
      directory = try TemporaryDirectory("huntkit-rounds")
      repo = try makeHistory(HistoryShape(commits: 40, seed: 5, mergeRatio: 0), in: directory.url)
    }

    /// The n-th commit of main's history, newest first.
    func commit(_ index: Int) throws -> ObjectID {
      try #require(ObjectID(hex: lines(try git(["rev-list", "main"], in: repo))[index]))
    }

    func request(environments names: [String], deploy: String, test: String) -> HuntRequest {
      var configuration = Configuration()
      configuration.deployCommand = deploy
      configuration.testCommand = test
      configuration.deployRetries = 0
      configuration.environmentNames = names
      for name in names { configuration.environments[name] = DeployEnvironment(name: name) }
      return HuntRequest(
        repositoryPath: repo.path, bad: "main", goods: ["v0.1"], configuration: configuration,
        state: .file(directory.url.appendingPathComponent("state.sqlite").path))
    }

    func open(_ request: HuntRequest) async throws -> HuntSession {
      let calls = calls
      let events = events
      return try await HuntSession.open(
        request, stopper: HuntStopper(),
        events: { event in
          if case .environmentRetired(let name, _) = event { events.append("retired \(name)") }
        },
        runCommand: { spec, response throws(RunnerError) in
          let phase = spec.logFile.deletingPathExtension().lastPathComponent
          calls.append(
            "\(phase) \(spec.environment["BISECT_ENVIRONMENT"] ?? "?") \(spec.environment["BISECT_COMMIT"] ?? "?")")
          return try await Runner.run(spec, whenCancelled: response)
        })
    }
  }

  @Test("a deploy that fails in one environment moves the commit to another, and both verdicts stand")
  func failedDeployMoves() async throws {
    let bench = try Bench()
    var session = try await bench.open(
      bench.request(
        environments: ["dev1", "dev2"], deploy: "[ \"$BISECT_ENVIRONMENT\" = dev2 ] && exit 1; exit 0",
        test: "exit 0"))
    let (first, second) = (try bench.commit(10), try bench.commit(20))
    let records = await session.runRound([(first, .bisect), (second, .bisect)])
    #expect(records.map(\.commit) == [first, second])
    #expect(records.map(\.result) == [.verdict(.good), .verdict(.good)])
    #expect(records.allSatisfy { $0.environment == "dev1" && !$0.moved })
    // The step that failed on dev2 is stored as moved, not as the commit's skip.
    let moved = session.steps.filter(\.moved)
    #expect(moved.count == 1)
    #expect(moved.first?.environment == "dev2")
    #expect(bench.calls.all.filter { $0.hasPrefix("deploy dev2") }.count == 1)
  }

  @Test("an environment whose deploys fail twice for commits that deploy elsewhere is retired")
  func twoStrikesRetire() async throws {
    let bench = try Bench()
    var session = try await bench.open(
      bench.request(
        environments: ["dev1", "dev2", "dev3"], deploy: "[ \"$BISECT_ENVIRONMENT\" = dev2 ] && exit 1; exit 0",
        test: "exit 0"))
    _ = await session.runRound(try [3, 6, 9].map { (try bench.commit($0), .bisect) })
    #expect(session.pool.strikes["dev2"] == 1)
    #expect(session.pool.retired.isEmpty)
    _ = await session.runRound(try [12, 15, 18].map { (try bench.commit($0), .bisect) })
    #expect(session.pool.strikes["dev2"] == 2)
    #expect(session.pool.retired["dev2"] != nil)
    #expect(session.pool.active.map(\.name) == ["dev1", "dev3"])
    #expect(bench.events.all == ["retired dev2"])
    // No more work for dev2.
    let before = bench.calls.all.filter { $0.contains(" dev2 ") }.count
    _ = await session.runRound(try [21, 24].map { (try bench.commit($0), .bisect) })
    #expect(bench.calls.all.filter { $0.contains(" dev2 ") }.count == before)
  }

  @Test("a resumed hunt replays the stored steps in the round's order and runs nothing again")
  func replayKeepsOrder() async throws {
    let bench = try Bench()
    let jobs: [HuntSession.Job] = try [4, 14, 24].map { (try bench.commit($0), .bisect) }
    // The steps finish in reverse: each test appends its commit to `finished`, and the deploy
    // of job i waits until the jobs after it have finished (a minute at most, then it fails).
    let finished = bench.directory.url.appendingPathComponent("finished")
    let request = bench.request(
      environments: ["dev1", "dev2", "dev3"],
      deploy: """
        case "$BISECT_COMMIT" in \(jobs[0].commit.hex)) n=2 ;; \(jobs[1].commit.hex)) n=1 ;; *) n=0 ;; esac
        i=0
        while [ "$(cat '\(finished.path)' 2>/dev/null | wc -l)" -lt "$n" ]; do
          i=$((i + 1)); [ "$i" -gt 3000 ] && exit 1; sleep 0.02
        done
        """,
      test: """
        echo "$BISECT_COMMIT" >> '\(finished.path)'
        case "$BISECT_COMMIT" in [0-7]*) exit 0 ;; *) exit 1 ;; esac
        """)
    var first = try await bench.open(request)
    let ran = await first.runRound(jobs)
    #expect(
      lines(try String(contentsOf: finished, encoding: .utf8)) == jobs.reversed().map(\.commit.hex),
      "the steps finished out of order")
    #expect(ran.map(\.commit) == jobs.map(\.commit))
    #expect(Set(ran.map(\.number)).count == 3)
    await first.pool.release()
    let callsBefore = bench.calls.all.count

    var resumed = try await bench.open(request)
    #expect(resumed.journal.huntID == first.journal.huntID)
    let replayed = await resumed.runRound(jobs)
    #expect(replayed.map(\.commit) == jobs.map(\.commit))
    #expect(replayed.map(\.result) == ran.map(\.result))
    #expect(replayed.map(\.number) == ran.map(\.number))
    #expect(replayed.allSatisfy { $0.replayed })
    #expect(bench.calls.all.count == callsBefore, "nothing runs again")
    #expect(resumed.nextNumber > ran.map(\.number).max()!)
  }

  @Test("once a step aborts the hunt, no other step of the round starts")
  func nothingStartsAfterAbort() async throws {
    let bench = try Bench()
    var session = try await bench.open(bench.request(environments: ["dev1"], deploy: "exit 0", test: "exit 200"))
    let jobs: [HuntSession.Job] = try [5, 15, 25].map { (try bench.commit($0), .bisect) }
    let records = await session.runRound(jobs)
    guard case .abort(let why) = records[0].result else {
      Issue.record("the first step should abort: \(records[0].result)")
      return
    }
    #expect(why == "the test of \(jobs[0].commit.short()) exited with status 200 (a status above 127 aborts the hunt)")
    #expect(records[1].result == .abort(why) && records[2].result == .abort(why))
    #expect(records[1].number == 0 && records[2].number == 0, "never numbered: never started")
    #expect(bench.calls.all == ["deploy dev1 \(jobs[0].commit.hex)", "test dev1 \(jobs[0].commit.hex)"])
  }

  @Test("the restore target is the newest first-parent commit tested good, never the culprit or after it")
  func restoreTargets() async throws {
    let bench = try Bench()
    var session = try await bench.open(bench.request(environments: ["dev1"], deploy: "exit 0", test: "exit 0"))
    let culprit = try bench.commit(10)
    func step(_ index: Int, _ verdict: Verdict) throws -> StepRecord {
      var record = StepRecord(
        number: index, commit: try bench.commit(index), purpose: .bisect, logDirectory: bench.directory.url)
      record.result = .verdict(verdict)
      return record
    }
    // A lying good after the culprit (index 8), true goods before it (20, 25), a bad (5).
    session.steps = [try step(25, .good), try step(5, .bad), try step(8, .good), try step(20, .good)]
    #expect(session.restoreTarget(after: .culprit(culprit)) == (try bench.commit(20)))
    // Without any good step, the good the user named.
    session.steps = [try step(5, .bad)]
    #expect(session.restoreTarget(after: .culprit(culprit)) == session.goods.first)
  }
}
