import Foundation
import HuntStore
import TestSupport
import Testing

/// A team's hunts on one PostgreSQL database, through the real executable: simulated hosts
/// (their own clone and `BISECT_DEPLOY_HOST` each) sharing one pool of environments. Deploy
/// and test take an exclusive `flock` on the environment and note every use, so that two
/// commits deployed to one environment at once could not pass unseen.
@Suite(.serialized) struct FleetTests {
  struct Fleet {
    let directory: TemporaryDirectory
    let origin: URL
    /// Lock files, each environment's history of uses, and `violations`.
    let uses: URL
    /// The state: a schema of its own in the tests' server.
    let state: String
    let schema: String

    init(commits: Int = 80, seed: Int = 61) throws {
      directory = try TemporaryDirectory("fleet")
      origin = try makeHistory(HistoryShape(commits: commits, seed: seed, mergeRatio: 0.2), in: directory.url)
      uses = directory.url.appendingPathComponent("uses")
      try FileManager.default.createDirectory(at: uses, withIntermediateDirectories: true)
      schema = uniqueSchemaName()
      state = try testPostgresURL(schema: schema)
    }

    /// The host's clone of the repository (made on first use).
    func clone(_ host: String) throws -> URL {
      let folder = directory.url.appendingPathComponent(host)
      if !FileManager.default.fileExists(atPath: folder.path) {
        try git(["clone", "--quiet", origin.path, folder.path], in: directory.url)
      }
      return folder
    }

    /// Commit `index` of v0.1..main, newest first.
    func commit(_ index: Int) throws -> String {
      lines(try git(["rev-list", "v0.1..main"], in: origin))[index]
    }

    /// Deploy: an exclusive lock on the environment for its whole run, or a violation; the
    /// use noted as "HUNT PHASE COMMIT".
    static let deploy = """
      exec 9>>"$USES/$BISECT_ENVIRONMENT.lock"
      if ! flock -n 9; then echo "deploy of $HUNT on $BISECT_ENVIRONMENT while it was in use" >> "$USES/violations"; exit 1; fi
      echo "$HUNT $BISECT_PHASE $BISECT_COMMIT" >> "$USES/$BISECT_ENVIRONMENT.history"
      sleep 0.1
      """

    /// Test: the same lock, and the environment must still run what this hunt deployed.
    static let test = """
      exec 9>>"$USES/$BISECT_ENVIRONMENT.lock"
      if ! flock -n 9; then echo "test of $HUNT on $BISECT_ENVIRONMENT while it was in use" >> "$USES/violations"; exit 200; fi
      last=$(tail -n 1 "$USES/$BISECT_ENVIRONMENT.history")
      [ "$last" = "$HUNT $BISECT_PHASE $BISECT_COMMIT" ] || echo "test of $HUNT on $BISECT_ENVIRONMENT found: $last" >> "$USES/violations"
      echo "$HUNT $BISECT_COMMIT" >> "$USES/tests"
      sleep "${SLOW:-0.05}"
      git -C "$BISECT_REPO" merge-base --is-ancestor "$CULPRIT" "$BISECT_COMMIT" && exit 1
      exit 0
      """

    func environment(host: String, hunt: String, culprit: String, slow: String? = nil) -> [String: String] {
      var environment = gitEnvironment
      environment["SLOW"] = slow
      environment["BISECT_DEPLOY_HOST"] = host
      environment["USES"] = uses.path
      environment["HUNT"] = hunt
      environment["CULPRIT"] = culprit
      return environment
    }

    func arguments(pool: [String], extra: [String] = []) -> [String] {
      [
        "--good", "v0.1", "--bad", "main", "--deploy", Self.deploy, "--test", Self.test, "--state", state,
        "--env-pool", pool.joined(separator: ","), "--json",
      ] + extra
    }

    /// Starts `bisect-deploy` in `host`'s clone; standard output goes to `output`.
    func start(
      _ arguments: [String], host: String, hunt: String, culprit: String, output: URL, slow: String? = nil,
      wrapper: [String] = []
    ) throws -> Process {
      let process = Process()
      process.executableURL = URL(fileURLWithPath: wrapper.isEmpty ? bisectDeployExecutable.path : "/usr/bin/env")
      process.arguments = wrapper + (wrapper.isEmpty ? [] : [bisectDeployExecutable.path]) + arguments
      process.currentDirectoryURL = try clone(host)
      process.environment = environment(host: host, hunt: hunt, culprit: culprit, slow: slow)
      let errors = output.appendingPathExtension("err")
      for file in [output, errors] { _ = FileManager.default.createFile(atPath: file.path, contents: nil) }
      process.standardOutput = try FileHandle(forWritingTo: output)
      process.standardError = try FileHandle(forWritingTo: errors)
      try process.run()
      return process
    }

    func run(_ arguments: [String], host: String, hunt: String = "", culprit: String = "") throws -> ProcessOutput {
      try bisectDeploy(
        arguments, in: try clone(host), environment: environment(host: host, hunt: hunt, culprit: culprit))
    }

    var violations: [String] {
      lines((try? String(contentsOf: uses.appendingPathComponent("violations"), encoding: .utf8)) ?? "")
    }

    /// Every test run, oldest first: "HUNT COMMIT".
    var testRuns: [String] {
      lines((try? String(contentsOf: uses.appendingPathComponent("tests"), encoding: .utf8)) ?? "")
    }

    /// The uses of `environment`, oldest first: "HUNT PHASE COMMIT".
    func history(_ environment: String) -> [String] {
      lines((try? String(contentsOf: uses.appendingPathComponent("\(environment).history"), encoding: .utf8)) ?? "")
    }
  }

  /// The JSON objects a hunt printed.
  static func events(_ output: URL) throws -> [[String: Any]] {
    try lines(String(contentsOf: output, encoding: .utf8)).compactMap { line in
      try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    }
  }

  static func culprit(of events: [[String: Any]]) -> String? {
    (events.last?["culprit"] as? [String: Any])?["id"] as? String
  }

  @Test(
    "24 hunts from 4 hosts share a pool of 6: no double deploy, every culprit right, every environment restored and free"
  )
  func twentyFourHuntsOnAPoolOfSix() throws {
    let fleet = try Fleet()
    let pool = (1...6).map { "dev\($0)" }
    var hunts = [(process: Process, output: URL, culprit: String, name: String)]()
    for index in 0..<24 {
      let host = "host-\(index % 4 + 1)"
      let culprit = try fleet.commit(4 + (index * 7) % 60)
      let name = "hunt-\(index)"
      let output = fleet.directory.url.appendingPathComponent("\(name).json")
      let parallel = index % 3 == 0 ? ["--parallel", "2"] : []
      hunts.append(
        (
          try fleet.start(
            fleet.arguments(pool: pool, extra: parallel + ["--wait-for-env", "10m"]), host: host, hunt: name,
            culprit: culprit, output: output),
          output, culprit, name
        ))
    }
    let deadline = Date().addingTimeInterval(600)
    for hunt in hunts {
      while hunt.process.isRunning && Date() < deadline { usleep(50_000) }
      if hunt.process.isRunning { kill(hunt.process.processIdentifier, SIGKILL) }
      hunt.process.waitUntilExit()
    }
    #expect(fleet.violations.isEmpty, "\(fleet.violations)")
    for hunt in hunts {
      let events = try Self.events(hunt.output)
      let errors = (try? String(contentsOf: hunt.output.appendingPathExtension("err"), encoding: .utf8)) ?? ""
      #expect(hunt.process.terminationStatus == 0, "\(hunt.name): \(errors)")
      #expect(Self.culprit(of: events) == hunt.culprit, "\(hunt.name)")
    }
    // Each environment's last use is a restore, and nothing holds or waits for any of them.
    var used = 0
    for environment in pool {
      let history = fleet.history(environment)
      if history.isEmpty { continue }
      used += 1
      #expect(history.last?.split(separator: " ")[1] == "restore", "\(environment): \(history.suffix(3))")
    }
    #expect(used >= 4, "the hunts spread over the pool")
    let status = try fleet.run(["hunts", "--state", fleet.state, "--limit", "30"], host: "host-1")
    #expect(!status.stdout.contains("holds"), "\(status.stdout)")
    #expect(lines(status.stdout).count == 24)
    for host in 1...4 { #expect(status.stdout.contains("on host-\(host)")) }
  }

  /// Waits until `output` holds an event for which `matches` is true; returns it.
  @discardableResult
  static func waitFor(
    _ output: URL, seconds: Double = 60, _ matches: ([String: Any]) -> Bool
  ) throws -> [String: Any]? {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
      // Only whole lines: the writer may be in the middle of one.
      let whole = text.hasSuffix("\n") ? text : String(text[..<(text.lastIndex(of: "\n") ?? text.startIndex)])
      for line in lines(whole) {
        if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], matches(object) {
          return object
        }
      }
      usleep(20_000)
    }
    return nil
  }

  static func isEvent(_ name: String) -> ([String: Any]) -> Bool { { $0["event"] as? String == name } }

  /// The hunt `host` started, from `bisect-deploy hunts`.
  static func huntID(of host: String, in fleet: Fleet) throws -> String? {
    let listing = try fleet.run(["hunts", "--state", fleet.state], host: host)
    return lines(listing.stdout).first { $0.contains(" on \(host) ") }?.split(separator: " ").first.map {
      String($0.dropFirst())
    }
  }

  /// Whether this process may start a PID namespace (root, or user namespaces allowed).
  static let pidNamespaces: Bool = {
    (try? runProcess("/usr/bin/env", ["unshare", "--pid", "--fork", "--mount-proc", "true"]))?.status == 0
  }()

  /// The children of `pid`, from /proc; throws where /proc cannot be listed.
  static func children(of pid: Int32) throws -> [Int32] {
    try FileManager.default.contentsOfDirectory(atPath: "/proc").compactMap(Int32.init).filter { child in
      // `pid (comm) state ppid ...`
      guard let stat = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
      else { return false }
      let fields = stat[stat.index(after: close)...].split(separator: " ")
      return fields.count > 1 && Int32(fields[1]) == pid
    }
  }

  /// The holder of each of `environments`' lease and its `column` (a time) in seconds since
  /// 1970, as the database stores them: one clock for every host.
  static func leases(_ column: String, of environments: [String], in fleet: Fleet) throws -> [String: (
    host: String, seconds: Double
  )] {
    let names = environments.map { "'\($0)'" }.joined(separator: ", ")
    let rows = try runPostgresSQL(
      "SELECT environment || ' ' || host || ' ' || extract(epoch FROM \(column)) FROM \"\(fleet.schema)\".leases "
        + "WHERE environment IN (\(names))")
    var leases = [String: (host: String, seconds: Double)]()
    for row in lines(rows) {
      let fields = row.split(separator: " ").map(String.init)
      guard fields.count == 3, let seconds = Double(fields[2]) else { continue }
      leases[fields[0]] = (fields[1], seconds)
    }
    return leases
  }

  @Test(
    "kill -9 of a hunt holding two environments: another host's waiting hunt gets them once the lease runs out, and the killed hunt resumes later",
    .enabled(
      if: pidNamespaces,
      "needs `unshare --pid` (root, or user namespaces allowed): without a PID namespace host 2 sees host 1's process gone and takes over at once, and the lease running out is never tested"
    )
  )
  func killedHuntsEnvironmentsGoToAWaitingHost() throws {
    let fleet = try Fleet()
    let pool = ["dev1", "dev2"]
    // Known held for 6 − (1 + 1) = 4 s after each renewal: slack for a commit's fsync on a busy disk.
    let lease = ["--lease-duration", "6s", "--lease-renew", "1s", "--parallel", "2", "--wait-for-env", "2m"]
    let grace = fleet.directory.url.appendingPathComponent("grace.yml")
    try "timeouts: {grace: 1s}\n".write(to: grace, atomically: true, encoding: .utf8)
    let culprit = try fleet.commit(20)
    // Host 1's hunt runs in a PID namespace of its own, as in a container of its own: from
    // host 2 its process cannot be seen, so only the lease running out frees its environments.
    let wrapper = ["unshare", "--pid", "--fork", "--kill-child=SIGKILL", "--mount-proc"]
    let firstOutput = fleet.directory.url.appendingPathComponent("first.json")
    let first = try fleet.start(
      fleet.arguments(pool: pool, extra: lease + ["--config", grace.path]), host: "host-1", hunt: "first",
      culprit: culprit, output: firstOutput, slow: "0.6", wrapper: wrapper)
    defer { if first.isRunning { kill(first.processIdentifier, SIGKILL) } }
    try #require(try Self.waitFor(firstOutput, Self.isEvent("environments-leased")) != nil)
    try #require(
      try Self.waitFor(firstOutput) { $0["event"] as? String == "verdict" && $0["step"] as? Int == 3 } != nil)
    let secondOutput = fleet.directory.url.appendingPathComponent("second.json")
    // A slow test: host 2 holds the environments for seconds, so its leases can be read.
    let second = try fleet.start(
      fleet.arguments(pool: pool, extra: lease + ["--config", grace.path]), host: "host-2", hunt: "second",
      culprit: culprit, output: secondOutput, slow: "0.5")
    defer { if second.isRunning { kill(second.processIdentifier, SIGKILL) } }
    try #require(try Self.waitFor(secondOutput, Self.isEvent("waiting-for-environment")) != nil)

    // The hunt itself is unshare's child; unshare ends once it has.
    let hunts = try Self.children(of: first.processIdentifier)
    try #require(hunts.count == 1, "unshare's children: \(hunts)")
    kill(hunts[0], SIGKILL)
    first.waitUntilExit()
    // When host 1's leases run out, now that nothing renews them: the event host 2 waits for.
    let expiries = try Self.leases("expires_at", of: pool, in: fleet)
    try #require(expiries.count == 2 && expiries.values.allSatisfy { $0.host == "host-1" }, "\(expiries)")
    let leased = try #require(try Self.waitFor(secondOutput, Self.isEvent("environments-leased")))
    let acquired = try Self.leases("acquired_at", of: pool, in: fleet)
    #expect((leased["environments"] as? [String])?.sorted() == pool)
    for environment in pool {
      let ranOut = try #require(expiries[environment]).seconds
      let taken = try #require(acquired[environment], "\(environment): no lease once host 2 had them")
      #expect(taken.host == "host-2")
      // Not before the lease ran out, and soon after: host 2 asks every second, and the rest
      // is slack for a loaded 2-core machine (both times from the database's clock).
      #expect(taken.seconds >= ranOut, "\(environment): taken \(ranOut - taken.seconds) s before its lease ran out")
      #expect(taken.seconds - ranOut < 10, "\(environment): taken \(taken.seconds - ranOut) s after it ran out")
    }
    let takeovers = try Self.events(secondOutput).filter(Self.isEvent("lease-taken-over"))
    #expect(takeovers.count == 2)
    #expect(takeovers.allSatisfy { $0["reason"] as? String == "expired" && $0["previousHost"] as? String == "host-1" })
    second.waitUntilExit()
    #expect(second.terminationStatus == 0)
    #expect(Self.culprit(of: try Self.events(secondOutput)) == culprit)

    // Host 1 comes back: its hunt continues from its stored steps.
    let id = try #require(try Self.huntID(of: "host-1", in: fleet))
    let testsBefore = fleet.testRuns.filter { $0.hasPrefix("first ") }.count
    let resumed = try fleet.run(
      ["resume", "--hunt", id, "--state", fleet.state], host: "host-1", hunt: "first", culprit: culprit)
    #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
    let events = try lines(resumed.stdout).compactMap {
      try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
    }
    #expect(Self.culprit(of: events) == culprit)
    let replayed = events.filter { Self.isEvent("verdict")($0) && $0["replayed"] as? Bool == true }
    #expect(replayed.count >= 3, "the verdicts stored before the kill are kept")
    #expect(fleet.testRuns.filter { $0.hasPrefix("first ") }.count > testsBefore)
    #expect(fleet.violations.isEmpty, "\(fleet.violations)")
  }

  /// The server's folder (scripts/postgres.sh made it) and the script that restarts it.
  static func postgres(_ action: String) throws {
    let folder = try #require(ProcessInfo.processInfo.environment["BISECT_DEPLOY_TEST_POSTGRES_DIR"])
    let script = fixturesDirectory.deletingLastPathComponent().appendingPathComponent("scripts/postgres.sh")
    let status = try spawnAndWait("/bin/bash", [script.path, action, folder])
    try #require(status == 0, "scripts/postgres.sh \(action) exited \(status)")
  }

  @Test(
    "PostgreSQL restarted mid-hunt and the hunt's connections terminated: it reconnects, no verdict lost or duplicated")
  func serverRestartedMidHunt() throws {
    let fleet = try Fleet()
    let culprit = try fleet.commit(33)
    let output = fleet.directory.url.appendingPathComponent("hunt.json")
    let hunt = try fleet.start(
      fleet.arguments(pool: ["dev1"], extra: ["--parallel", "1"]), host: "host-1", hunt: "restarted",
      culprit: culprit, output: output, slow: "0.4")
    defer { if hunt.isRunning { kill(hunt.processIdentifier, SIGKILL) } }
    try #require(try Self.waitFor(output) { $0["event"] as? String == "verdict" && $0["step"] as? Int == 2 } != nil)
    try Self.postgres("restart")
    try #require(try Self.waitFor(output) { $0["event"] as? String == "verdict" && $0["step"] as? Int == 4 } != nil)
    let killedConnections = try runPostgresSQL(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'bisect-deploy'")
    #expect(Int(killedConnections) ?? 0 >= 1, "no connection of the hunt to terminate")
    hunt.waitUntilExit()
    let events = try Self.events(output)
    #expect(hunt.terminationStatus == 0)
    #expect(Self.culprit(of: events) == culprit)
    // Every test run is exactly one stored step, in order, each number once.
    let schema = try #require(fleet.state.split(separator: "=").last)
    let stored = lines(
      try runPostgresSQL(
        "SELECT number || ' ' || commit_hex FROM \"\(schema)\".steps ORDER BY number"))
    #expect(stored.map { Int($0.split(separator: " ")[0]) } == Array(1...stored.count).map { Optional($0) })
    #expect(
      stored.map { String($0.split(separator: " ")[1]) } == fleet.testRuns.map { String($0.split(separator: " ")[1]) })
    #expect(events.filter(Self.isEvent("verdict")).count == stored.count)
  }

  @Test(
    "a hunt whose database stays away longer than its lease stops its steps, restores nothing, exits 76, and resumes later"
  )
  func leaseLostWhileTheDatabaseIsAway() throws {
    let fleet = try Fleet()
    let culprit = try fleet.commit(12)
    let config = fleet.directory.url.appendingPathComponent("short-lease.yml")
    try "timeouts: {grace: 1s}\nlease: {duration: 4s, renew: 1s}\n".write(to: config, atomically: true, encoding: .utf8)
    let output = fleet.directory.url.appendingPathComponent("hunt.json")
    let hunt = try fleet.start(
      fleet.arguments(pool: ["dev1"], extra: ["--config", config.path]), host: "host-1", hunt: "lost",
      culprit: culprit, output: output, slow: "3")
    defer { if hunt.isRunning { kill(hunt.processIdentifier, SIGKILL) } }
    try #require(try Self.waitFor(output) { $0["event"] as? String == "verdict" && $0["step"] as? Int == 1 } != nil)
    let took = try Self.databaseAwayUntilItStops(hunt)
    let result = try #require(try Self.events(output).last)
    #expect(result["outcome"] as? String == "stopped")
    #expect((result["detail"] as? String)?.contains("lease lost") == true, "\(result)")
    #expect(!fleet.history("dev1").contains { $0.hasPrefix("lost restore") }, "restored after losing the lease")
    // Stopped within the lease (less the grace period), plus the time to give the leases back.
    #expect(took < 12, "took \(took) s")
    let id = try #require(try Self.huntID(of: "host-1", in: fleet))
    let resumed = try fleet.run(
      ["resume", "--hunt", id, "--state", fleet.state], host: "host-1", hunt: "lost", culprit: culprit)
    #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
    let events = try lines(resumed.stdout).compactMap {
      try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
    }
    #expect(Self.culprit(of: events) == culprit)
    #expect(fleet.violations.isEmpty, "\(fleet.violations)")
  }

  @Test(
    "a restore whose lease is lost meanwhile (the database away) is stopped: exit 76, the restore's deploy killed"
  )
  func leaseLostDuringTheRestore() throws {
    let fleet = try Fleet(commits: 30, seed: 69)
    let culprit = try fleet.commit(5)
    let config = fleet.directory.url.appendingPathComponent("short-lease.yml")
    try "timeouts: {grace: 1s, restore: 2m}\nlease: {duration: 4s, renew: 1s}\n".write(
      to: config, atomically: true, encoding: .utf8)
    let deploy =
      Fleet.deploy + """

        if [ "$BISECT_PHASE" = restore ]; then
          echo "$$" > "$USES/restore-group"; echo started >> "$USES/restore"; sleep 30; echo finished >> "$USES/restore"
        fi
        """
    let arguments = [
      "--good", "v0.1", "--bad", "main", "--deploy", deploy, "--test", Fleet.test, "--state", fleet.state,
      "--env-pool", "dev1", "--json", "--config", config.path,
    ]
    let output = fleet.directory.url.appendingPathComponent("hunt.json")
    let hunt = try fleet.start(arguments, host: "host-1", hunt: "restoring", culprit: culprit, output: output)
    defer { if hunt.isRunning { kill(hunt.processIdentifier, SIGKILL) } }
    try #require(try Self.waitFor(output, Self.isEvent("restoring")) != nil)
    let restoreLog = fleet.uses.appendingPathComponent("restore")
    let groupFile = fleet.uses.appendingPathComponent("restore-group")
    let started = Date().addingTimeInterval(60)
    while !FileManager.default.fileExists(atPath: restoreLog.path) && Date() < started { usleep(50_000) }
    // The restore's deploy runs in a process group of its own, led by the shell.
    let group = try #require(
      Int32(
        (try? String(contentsOf: groupFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""),
      "the restore's deploy never started")
    #expect(kill(-group, 0) == 0, "the restore's deploy must be running before the database goes away")
    let took = try Self.databaseAwayUntilItStops(hunt)
    #expect(took < 15, "took \(took) s")
    let result = try #require(try Self.events(output).last)
    #expect(result["outcome"] as? String == "stopped")
    #expect((result["detail"] as? String)?.contains("lease lost") == true, "\(result)")
    // The restore's deploy was stopped, not left to finish after the lease ran out: its whole
    // process group is gone (a group still alive would go on to write "finished").
    let gone = Date().addingTimeInterval(20)
    while kill(-group, 0) == 0 && Date() < gone { usleep(50_000) }
    #expect(kill(-group, 0) == -1, "process group \(group) of the restore's deploy still runs")
    #expect(lines((try? String(contentsOf: restoreLog, encoding: .utf8)) ?? "") == ["started"])
  }

  @Test(
    "a hunt that waits longer than its lease for an environment keeps its own lease: the same command started again is refused, and the waiting hunt then runs"
  )
  func aHuntWaitingLongerThanItsLeaseIsStillRunning() throws {
    let fleet = try Fleet(commits: 40, seed: 67)
    let culprit = try fleet.commit(8)
    // A pool's hunt holds dev1 for a while (a slow test).
    let poolOutput = fleet.directory.url.appendingPathComponent("pool.json")
    let poolHunt = try fleet.start(
      fleet.arguments(pool: ["dev1"]), host: "host-1", hunt: "pool", culprit: culprit, output: poolOutput, slow: "3")
    defer { if poolHunt.isRunning { kill(poolHunt.processIdentifier, SIGKILL) } }
    try #require(try Self.waitFor(poolOutput, Self.isEvent("environments-leased")) != nil)
    // A hunt on dev1 by name waits for it, with a lease of 6 s renewed every second (a grace
    // period shorter than the lease, as such a short lease needs). It knows it holds its leases
    // for 6 − (1 + 1) = 4 s after a renewal: 3 s of slack for a commit's fsync on a busy disk
    // (with 4 s it had 1 s, and a CI run once lost the lease that way).
    let grace = fleet.directory.url.appendingPathComponent("grace.yml")
    try "timeouts: {grace: 1s}\n".write(to: grace, atomically: true, encoding: .utf8)
    let named = [
      "--good", "v0.1", "--bad", "main", "--deploy", Fleet.deploy, "--test", Fleet.test, "--env", "dev1",
      "--state", fleet.state, "--json", "--wait-for-env", "2m", "--lease-duration", "6s", "--lease-renew", "1s",
      "--config", grace.path,
    ]
    let waitingOutput = fleet.directory.url.appendingPathComponent("waiting.json")
    let waiting = try fleet.start(named, host: "host-2", hunt: "waiting", culprit: culprit, output: waitingOutput)
    defer { if waiting.isRunning { kill(waiting.processIdentifier, SIGKILL) } }
    try #require(
      try Self.waitFor(waitingOutput, Self.isEvent("waiting-for-environment")) != nil,
      "\((try? String(contentsOf: waitingOutput, encoding: .utf8)) ?? "")\((try? String(contentsOf: waitingOutput.appendingPathExtension("err"), encoding: .utf8)) ?? "")"
    )
    // Longer than its lease: without renewals while it waits, its hunt would look stopped.
    usleep(8_000_000)
    try #require(poolHunt.isRunning, "the pool's hunt ended before the waiting hunt's lease could run out")
    let again = try fleet.run(named, host: "host-3", hunt: "again", culprit: culprit)
    #expect(again.status == 75, "\(again.stdout)\(again.stderr)")
    #expect(again.stderr.contains("runs now") && again.stderr.contains("host-2"), "\(again.stderr)")
    poolHunt.waitUntilExit()
    waiting.waitUntilExit()
    #expect(poolHunt.terminationStatus == 0)
    #expect(
      waiting.terminationStatus == 0,
      "\((try? String(contentsOf: waitingOutput, encoding: .utf8)) ?? "")\((try? String(contentsOf: waitingOutput.appendingPathExtension("err"), encoding: .utf8)) ?? "")"
    )
    #expect(Self.culprit(of: try Self.events(waitingOutput)) == culprit)
    #expect(!fleet.testRuns.contains { $0.hasPrefix("again ") })
    #expect(fleet.violations.isEmpty, "\(fleet.violations)")
  }

  /// Stops the server until `hunt` stops (at most 40 s), starts it again, and checks the hunt
  /// ended as one that lost its lease (exit 76). Returns how long it took to stop.
  static func databaseAwayUntilItStops(_ hunt: Process) throws -> Double {
    try postgres("stop")
    let stopped = Date()
    let deadline = Date().addingTimeInterval(40)
    while hunt.isRunning && Date() < deadline { usleep(50_000) }
    let took = Date().timeIntervalSince(stopped)
    try postgres("up")
    try #require(!hunt.isRunning, "the hunt did not stop")
    #expect(hunt.terminationStatus == 76)
    return took
  }

  @Test("without a shared state the same check sees two hunts on one environment")
  func theCheckCatchesADoubleDeploy() throws {
    let fleet = try Fleet(commits: 40, seed: 63)
    let culprit = try fleet.commit(10)
    var hunts = [Process]()
    for index in 0..<2 {
      // Each its own state file: nothing keeps them apart.
      let arguments = [
        "--good", "v0.1", "--bad", "main", "--deploy", Fleet.deploy, "--test", Fleet.test, "--env", "dev1",
        "--state", fleet.directory.url.appendingPathComponent("state-\(index).sqlite").path, "--quiet",
      ]
      hunts.append(
        try fleet.start(
          arguments, host: "host-\(index)", hunt: "alone-\(index)", culprit: culprit,
          output: fleet.directory.url.appendingPathComponent("alone-\(index).out"), slow: "0.3"))
    }
    for hunt in hunts { hunt.waitUntilExit() }
    #expect(!fleet.violations.isEmpty)
  }

  @Test(
    "the state on PostgreSQL from --state, BISECT_DEPLOY_STATE or state:, shared by hosts: hunts, holders, reused verdicts, the report"
  )
  func oneDatabaseForEveryHost() throws {
    let fleet = try Fleet(commits: 50, seed: 65)
    let culprit = try fleet.commit(9)
    let common = ["--good", "v0.1", "--bad", "main", "--deploy", Fleet.deploy, "--test", Fleet.test, "--env", "dev1"]
    // Host 1: --state, and a slow test, so that host 2 sees it running.
    let output = fleet.directory.url.appendingPathComponent("first.json")
    let first = try fleet.start(
      common + ["--state", fleet.state, "--json"], host: "host-1", hunt: "first", culprit: culprit, output: output,
      slow: "0.5")
    defer { if first.isRunning { kill(first.processIdentifier, SIGKILL) } }
    try #require(try Self.waitFor(output, Self.isEvent("environments-leased")) != nil)
    // Host 2 reads the same database from its environment: it sees host 1's hunt holding dev1.
    var environment = fleet.environment(host: "host-2", hunt: "", culprit: culprit)
    environment["BISECT_DEPLOY_STATE"] = fleet.state
    let listing = try bisectDeploy(["hunts"], in: try fleet.clone("host-2"), environment: environment)
    #expect(listing.status == 0, "\(listing.stderr)")
    #expect(listing.stdout.contains("dev1 on host-1"), "\(listing.stdout)")
    #expect(listing.stdout.contains("unfinished (holds dev1)"), "\(listing.stdout)")
    let status = try bisectDeploy(["status"], in: try fleet.clone("host-2"), environment: environment)
    #expect(status.stdout.contains("lease: dev1 held (running) by pid"), "\(status.stdout)")
    #expect(status.stdout.contains("on host-1"))
    // A hunt on dev1 from host 2 meanwhile is refused, naming host 1.
    let refused = try bisectDeploy(common, in: try fleet.clone("host-2"), environment: environment)
    #expect(refused.status == 75)
    #expect(refused.stderr.contains("host-1"))
    first.waitUntilExit()
    #expect(first.terminationStatus == 0)

    // Host 3 takes the database from `state:`; --reuse-verdicts takes host 1's verdicts.
    let clone = try fleet.clone("host-3")
    try "state: \(fleet.state)\n".write(
      to: clone.appendingPathComponent("bisect-deploy.yml"), atomically: true, encoding: .utf8)
    let second = try fleet.run(common + ["--reuse-verdicts"], host: "host-3", hunt: "second", culprit: culprit)
    #expect(second.status == 0, "\(second.stderr)")
    #expect(second.stdout.contains("Reused verdicts from earlier hunts"), "\(second.stdout)")
    let runs = { (hunt: String) in fleet.testRuns.filter { $0.hasPrefix(hunt + " ") }.count }
    #expect(runs("second") < runs("first"), "the verdicts host 1 tested were tested again")
    let report = fleet.directory.url.appendingPathComponent("report.md")
    let written = try fleet.run(["report", "--hunt", "1", "-o", report.path], host: "host-3")
    #expect(written.status == 0, "\(written.stderr)")
    #expect(try String(contentsOf: report, encoding: .utf8).contains(culprit))
    // The password never reaches output, logs or the state.
    let password = try #require(ProcessInfo.processInfo.environment["PGPASSWORD"])
    var seen = first.terminationStatus == 0 ? try String(contentsOf: output, encoding: .utf8) : ""
    seen += listing.stdout + listing.stderr + status.stdout + refused.stderr + second.stdout + second.stderr
    for host in ["host-1", "host-3"] {
      let logs = try fleet.clone(host).appendingPathComponent(".git/bisect-deploy/logs")
      for file in FileManager.default.enumerator(atPath: logs.path)?.compactMap({ $0 as? String }) ?? [] {
        seen += (try? String(contentsOf: logs.appendingPathComponent(file), encoding: .utf8)) ?? ""
      }
    }
    seen += try runPostgresSQL("SELECT string_agg(command_line, ' ') FROM \"\(fleet.schema)\".hunts")
    #expect(!seen.contains(password))
  }

  @Test("state migrate copies a clone's SQLite history into PostgreSQL once, leaving the file as it was")
  func migrateASQLiteHistory() throws {
    let fleet = try Fleet(commits: 40, seed: 67)
    let culprit = try fleet.commit(6)
    let common = ["--good", "v0.1", "--bad", "main", "--deploy", Fleet.deploy, "--test", Fleet.test, "--env", "dev1"]
    #expect(try fleet.run(common, host: "host-1", hunt: "local", culprit: culprit).status == 0)
    #expect(try fleet.run(common + ["--no-verify"], host: "host-1", hunt: "local", culprit: culprit).status == 0)
    let file = try fleet.clone("host-1").appendingPathComponent(".git/bisect-deploy/state.sqlite")
    let before = try Data(contentsOf: file)
    let moved = try fleet.run(["state", "migrate", "--from", file.path, "--to", fleet.state], host: "host-1")
    #expect(moved.status == 0, "\(moved.stderr)")
    #expect(moved.stdout.contains("Copied 2 of 2 hunts"), "\(moved.stdout)")
    let again = try fleet.run(["state", "migrate", "--from", file.path, "--to", fleet.state], host: "host-1")
    #expect(again.stdout.contains("Copied nothing: all 2 hunts of "), "\(again.stdout)")
    #expect(try Data(contentsOf: file) == before)
    let listed = try fleet.run(["hunts", "--state", fleet.state], host: "host-1")
    #expect(lines(listed.stdout).filter { $0.contains("culprit \(culprit)") }.count == 2, "\(listed.stdout)")
    let log = try fleet.run(["log", "--hunt", "1", "--state", fleet.state], host: "host-1")
    #expect(log.stdout.contains("# first bad commit: [\(culprit)]"), "\(log.stdout)")
    // Refused: a URL for --from, a missing file.
    #expect(
      try fleet.run(["state", "migrate", "--from", "/nonexistent", "--to", fleet.state], host: "host-1").status == 64)
  }

  @Test("bad input about the state and the pool is refused before anything is deployed, naming it")
  func badInputIsRefused() throws {
    let fleet = try Fleet(commits: 30, seed: 69)
    let culprit = try fleet.commit(3)
    let common = ["--good", "v0.1", "--bad", "main", "--deploy", Fleet.deploy, "--test", Fleet.test]
    func refused(_ arguments: [String], _ status: Int32, _ words: String, environment extra: [String: String] = [:])
      throws
    {
      var environment = fleet.environment(host: "host-1", hunt: "bad", culprit: culprit)
      environment.merge(extra) { $1 }
      let output = try bisectDeploy(common + arguments, in: try fleet.clone("host-1"), environment: environment)
      #expect(output.status == status, "\(arguments): \(output.stderr)")
      #expect(output.stderr.contains(words), "\(arguments): \(output.stderr)")
    }
    try refused(["--state", "postgres://bisect:s3cret-pass@127.0.0.1/bisect"], 64, "PGPASSWORD")
    try refused(["--state", "mysql://127.0.0.1/db"], 64, "only postgres:// URLs")
    try refused(["--state", fleet.state + "&sslmode=sometimes"], 64, "sslmode 'sometimes'")
    try refused(["--env", "dev1", "--env-pool", "dev1,dev2"], 64, "--env and --env-pool cannot be combined")
    try refused(["--parallel", "2"], 64, "--parallel goes with --env-pool")
    try refused(["--env", "dev1", "--lease-duration", "5s"], 78, "lease.duration")
    try refused(
      ["--env", "dev1", "--state", fleet.state], 74, "password authentication failed",
      environment: ["PGPASSWORD": "wrong"])
    try refused(
      ["--env", "dev1"], 64, "BISECT_DEPLOY_STATE", environment: ["BISECT_DEPLOY_STATE": "postgres://u:p@h/d"])
    #expect(fleet.history("dev1").isEmpty, "something was deployed")
    #expect(
      !(try fleet.run(["hunts", "--state", "postgres://bisect:s3cret-pass@127.0.0.1/bisect"], host: "host-1")).stderr
        .contains("s3cret-pass"))

    // A pool whose environments stay busy: the wait runs out naming who holds them.
    let output = fleet.directory.url.appendingPathComponent("holder.json")
    let holder = try fleet.start(
      fleet.arguments(pool: ["dev1"]), host: "host-2", hunt: "holder", culprit: culprit, output: output, slow: "3")
    defer { if holder.isRunning { kill(holder.processIdentifier, SIGKILL) } }
    try #require(try Self.waitFor(output, Self.isEvent("environments-leased")) != nil)
    let waited = try fleet.run(
      fleet.arguments(pool: ["dev1"], extra: ["--wait-for-env", "2s"]), host: "host-1", hunt: "waiter", culprit: culprit
    )
    #expect(waited.status == 75, "\(waited.stderr)")
    #expect(waited.stderr.contains("No environment of the pool dev1 became free within 2 s"), "\(waited.stderr)")
    #expect(waited.stderr.contains("host-2"))
    kill(holder.processIdentifier, SIGINT)
    holder.waitUntilExit()
  }
}
