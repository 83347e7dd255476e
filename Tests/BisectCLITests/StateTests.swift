import Foundation
import HuntStore
import TestSupport
import Testing

/// Durable state through the real executable: kill -9 and resume, locks, reuse, the log.
@Suite struct StateTests {
  struct Setup {
    let directory: TemporaryDirectory
    let repo: URL
    let markers: URL
    let culprit: String

    init(seed: Int, commits: Int = 150, culpritIndex: Int = 40) throws {
      directory = try TemporaryDirectory()
      repo = try makeHistory(HistoryShape(commits: commits, seed: seed, mergeRatio: 0.2), in: directory.url)
      markers = directory.url.appendingPathComponent("markers")
      try FileManager.default.createDirectory(at: markers, withIntermediateDirectories: true)
      culprit = lines(try git(["rev-list", "v0.1..main"], in: repo))[culpritIndex]
    }

    /// A test that records each run (commit and step) and fails when the culprit is in.
    var test: String {
      "echo \"$BISECT_STEP $BISECT_COMMIT\" >> \"$MARKERS/tests\"; sleep 0.05; "
        + "git -C \"$BISECT_REPO\" merge-base --is-ancestor \(culprit) \"$BISECT_COMMIT\" && exit 1; exit 0"
    }

    var environment: [String: String] {
      var environment = gitEnvironment
      environment["MARKERS"] = markers.path
      return environment
    }

    var arguments: [String] {
      ["--good", "v0.1", "--bad", "main", "--test", test, "--deploy", "sleep 0.03", "--quiet"]
    }

    func run(_ arguments: [String]) throws -> ProcessOutput {
      try bisectDeploy(arguments, in: repo, environment: environment)
    }

    func start(_ arguments: [String]) throws -> Process {
      let process = Process()
      process.executableURL = bisectDeployExecutable
      process.arguments = arguments
      process.currentDirectoryURL = repo
      process.environment = environment
      process.standardOutput = FileHandle.nullDevice
      process.standardError = FileHandle.nullDevice
      try process.run()
      return process
    }

    var tests: [String] {
      lines((try? String(contentsOf: markers.appendingPathComponent("tests"), encoding: .utf8)) ?? "")
    }

    var database: URL { repo.appendingPathComponent(".git/bisect-deploy/state.sqlite") }
  }

  /// Python's sqlite3 as an independent reader of our file.
  static func sqlite(_ database: URL, _ sql: String) throws -> String {
    let script =
      "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print('\\n'.join(str(r[0]) for r in c.execute(sys.argv[2])))"
    let output = try runProcess("/usr/bin/env", ["python3", "-c", script, database.path, sql])
    #expect(output.status == 0, "\(output.stderr)")
    return output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// Python's sqlite3 writing to our file, as another program would.
  static func sqliteWrite(_ database: URL, _ sql: String) throws {
    let script = "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()"
    let output = try runProcess("/usr/bin/env", ["python3", "-c", script, database.path, sql])
    #expect(output.status == 0, "\(output.stderr)")
  }

  /// Whether the state database holds a hunt yet (read without creating the file).
  static func huntStored(_ database: URL) throws -> Bool {
    guard FileManager.default.fileExists(atPath: database.path) else { return false }
    let tables = try sqlite(database, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'hunts'")
    guard tables == "1" else { return false }
    return try sqlite(database, "SELECT count(*) FROM hunts") != "0"
  }

  @Test("killed with SIGKILL at random moments, resumed hunts name the same culprit and never rerun a recorded step")
  func killAndResume() throws {
    var random = SeededRandom(seed: 2026)
    for trial in 0..<20 {
      let setup = try Setup(seed: 100 + trial % 5, culpritIndex: 10 + trial * 5 % 60)
      var kills = 0
      // Kill, resume, kill again... until a run finishes on its own.
      var process = try setup.start(setup.arguments)
      while true {
        usleep(UInt32.random(in: 20_000...400_000, using: &random))
        if !process.isRunning { break }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        kills += 1
        // Killed before the hunt was stored (a busy machine starts slowly): nothing to resume.
        guard try Self.huntStored(setup.database) else {
          if kills >= 6 { break }
          process = try setup.start(setup.arguments)
          continue
        }
        #expect(try Self.sqlite(setup.database, "PRAGMA integrity_check") == "ok", "trial \(trial)")
        // Killed after the hunt had finished: starting the command again would be a new hunt.
        let outcome = try Self.sqlite(setup.database, "SELECT ifnull(outcome, '') FROM hunts ORDER BY id DESC LIMIT 1")
        if !outcome.isEmpty { break }
        process = try setup.start(trial % 2 == 0 ? ["resume", "--quiet"] : setup.arguments)
        if kills >= 6 { break }
      }
      process.waitUntilExit()
      let finished = try setup.run(["hunts"]).stdout.contains("culprit")
      if process.terminationStatus != 0 && !finished {
        // The last start may itself have been killed: finish the hunt for the comparison.
        let finish = try setup.run(try Self.huntStored(setup.database) ? ["resume", "--quiet"] : setup.arguments)
        #expect(finish.status == 0, "trial \(trial): \(finish.stdout)\(finish.stderr)")
      }
      let log = try setup.run(["hunts"])
      #expect(log.stdout.contains("culprit \(setup.culprit)"), "trial \(trial): \(log.stdout)")
      // Each step number was tested to completion at most once; a commit runs again only
      // when its step was interrupted (at most once per kill).
      let verdicts = try Self.sqlite(
        setup.database, "SELECT number || ' ' || commit_hex FROM steps WHERE verdict IS NOT NULL")
      let recorded = Set(lines(verdicts).map { String($0.split(separator: " ")[1]) })
      let runs = Dictionary(grouping: setup.tests.map { String($0.split(separator: " ")[1]) }) { $0 }.mapValues(\.count)
      let reruns = runs.values.reduce(0) { $0 + $1 - 1 }
      #expect(reruns <= kills, "trial \(trial): \(reruns) reruns after \(kills) kills")
      #expect(recorded.isSubset(of: Set(runs.keys)))
      #expect(try Self.sqlite(setup.database, "PRAGMA integrity_check") == "ok")
    }
  }

  @Test("a second hunt on the same environment is refused, naming the running one; another environment proceeds")
  func locks() throws {
    let setup = try Setup(seed: 7)
    let slow = ["--good", "v0.1", "--bad", "main", "--test", "sleep 30", "--quiet"]
    let first = try setup.start(slow)
    defer {
      kill(first.processIdentifier, SIGINT)
      first.waitUntilExit()
    }
    // Wait until the first hunt holds its lock.
    var status = ""
    for _ in 0..<100 {
      status = (try? setup.run(["status"]))?.stdout ?? ""
      if status.contains("running") { break }
      usleep(50_000)
    }
    let second = try setup.run(slow)
    #expect(second.status == 75, "\(second.stdout)\(second.stderr)")
    // The same arguments meet the open hunt (the first of this state file) and its holder,
    // named by pid and host.
    #expect(
      second.stderr.contains(
        "Hunt #1 runs now: it is held by pid \(first.processIdentifier) on \(ProcessIdentity.hostName) (since "),
      "\(second.stderr)")

    let config = setup.directory.url.appendingPathComponent("two.yml")
    try "environments:\n  dev: {}\n  staging: {}\n".write(to: config, atomically: true, encoding: .utf8)
    let other = try setup.run(
      ["--config", config.path, "--env", "staging"] + setup.arguments)
    #expect(other.status == 0, "\(other.stdout)\(other.stderr)")
    #expect(other.stdout.contains(setup.culprit))
  }

  /// A lease row as another host's hunt would leave it, running out in an hour.
  static func leaseRow(pid: Int32, host: String, process: String) -> String {
    let host = host.replacingOccurrences(of: "'", with: "''")
    return """
      INSERT INTO leases VALUES ('default', 1, '\(host)', \(pid), '\(process)', 'a-token-of-another-process',
        '2026-11-20 03:00:00.000', strftime('%Y-%m-%d %H:%M:%f', 'now'), strftime('%Y-%m-%d %H:%M:%f', 'now', '+3600 seconds'))
      """
  }

  @Test("a lease held by a hunt on another host blocks the environment until bisect-deploy unlock frees it")
  func unlockForeignLease() throws {
    let setup = try Setup(seed: 11)
    #expect(try setup.run(setup.arguments).status == 0)
    // A CI job on another machine was killed while it held the lease (hunt 1 stands in for it).
    try Self.sqliteWrite(
      setup.database, Self.leaseRow(pid: 99999, host: "ci-runner-7", process: "other-boot/x/99999/1"))
    let refused = try setup.run(setup.arguments)
    #expect(refused.status == 75)
    #expect(refused.stderr.contains("ci-runner-7"))
    let unlock = try setup.run(["unlock", "default"])
    #expect(unlock.status == 0, "\(unlock.stderr)")
    #expect(unlock.stdout.contains("Freed default held by process 99999 on ci-runner-7"))
    #expect(try setup.run(setup.arguments).status == 0)

    // A live process on this machine keeps its lease unless --force.
    try Self.sqliteWrite(
      setup.database, Self.leaseRow(pid: getpid(), host: ProcessIdentity.hostName, process: ProcessIdentity.current))
    let live = try setup.run(["unlock", "default"])
    #expect(live.status == 75)
    #expect(live.stderr.contains("still running"))
    #expect(try setup.run(["unlock", "default", "--force"]).status == 0)
    #expect(try setup.run(["unlock", "default"]).stdout.contains("No lease on 'default'"))
  }

  @Test("bisect-deploy log is accepted by git bisect replay, which reaches the same culprit")
  func logReplays() throws {
    let setup = try Setup(seed: 9)
    let hunt = try setup.run(setup.arguments)
    #expect(hunt.status == 0)
    let log = try setup.run(["log"])
    #expect(log.status == 0)
    #expect(log.stdout.contains("git bisect start"))
    let file = setup.directory.url.appendingPathComponent("bisect.log")
    try log.stdout.write(to: file, atomically: true, encoding: .utf8)
    try git(["bisect", "replay", file.path], in: setup.repo)
    let state = try git(["bisect", "log"], in: setup.repo)
    #expect(state.contains("# first bad commit: [\(setup.culprit)]"), "\(state)")
    try git(["bisect", "reset"], in: setup.repo)
  }

  @Test("with reuse_verdicts a later hunt takes known verdicts instead of testing again, and says so")
  func reuse() throws {
    let setup = try Setup(seed: 11)
    #expect(try setup.run(setup.arguments).status == 0)
    let testedFirst = setup.tests.count
    let again = try setup.run(setup.arguments + ["--reuse-verdicts"])
    #expect(again.status == 0)
    #expect(again.stdout.contains(setup.culprit))
    #expect(again.stdout.contains("Reused verdicts"))
    // Only the endpoint checks ran again: every bisect step came from the cache.
    #expect(setup.tests.count - testedFirst <= 2)
    let withoutReuse = try setup.run(setup.arguments)
    #expect(!withoutReuse.stdout.contains("Reused verdicts"))
  }

  @Test("manual verdicts, reset, and a damaged database that is reported, not replaced")
  func manualResetAndDamage() throws {
    let setup = try Setup(seed: 13)
    // Killed once its first test runs: the hunt is stored by then, however slow the start.
    let testing = setup.markers.appendingPathComponent("testing")
    let test = "touch \"$MARKERS/testing\"; sleep 30"
    let process = try setup.start(["--good", "v0.1", "--bad", "main", "--test", test, "--quiet"])
    let deadline = Date().addingTimeInterval(60)
    while !FileManager.default.fileExists(atPath: testing.path) && Date() < deadline { usleep(20_000) }
    #expect(FileManager.default.fileExists(atPath: testing.path), "the hunt's first test never started")
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    let mark = try setup.run(["bad", "main~1"])
    #expect(mark.status == 0, "\(mark.stderr)")
    let status = try setup.run(["status"])
    #expect(status.stdout.contains("manual: bad"))
    let reset = try setup.run(["reset"])
    #expect(reset.status == 0, "\(reset.stderr)")
    #expect(try setup.run(["hunts"]).stdout.contains("reset"))
    #expect(try setup.run(["status"]).status == 9, "no unfinished hunt after reset: nothing to show")

    try Data("this is not a database".utf8).write(to: setup.database)
    let before = try Data(contentsOf: setup.database)
    let damaged = try setup.run(setup.arguments)
    #expect(damaged.status == 74)
    #expect(damaged.stderr.contains(setup.database.lastPathComponent))
    #expect(try Data(contentsOf: setup.database) == before, "the file is left as it was")
  }
}

/// A small seeded generator so that kill timings repeat from run to run.
struct SeededRandom: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return state
  }
}
