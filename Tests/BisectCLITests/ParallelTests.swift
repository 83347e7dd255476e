import Foundation
import TestSupport
import Testing

/// Hunts over several environments at once, through the real executable and real scripts.
@Suite struct ParallelTests {
  typealias Bench = HuntTests.Bench

  /// Three environments, each with its own namespace variable.
  static func configuration(in bench: Bench, extra: String = "") throws -> String {
    let path = bench.directory.url.appendingPathComponent("bisect-deploy.yml")
    let text = """
      environment: [dev1, dev2, dev3]
      environments:
        dev1: {variables: {NAMESPACE: ns-1}}
        dev2: {variables: {NAMESPACE: ns-2}}
        dev3: {variables: {NAMESPACE: ns-3}}
        prod: {protected: true}
      \(extra)
      """
    try text.write(toFile: path.path, atomically: true, encoding: .utf8)
    return path.path
  }

  /// The live processes whose environment names `bench`'s markers folder: the hunt's and every
  /// step's, orphans included (a forked child holds it before it runs its command). Throws
  /// where /proc cannot be read, rather than answer that nothing runs.
  static func processes(of bench: Bench) throws -> [Int32] {
    let entry = Array("MARKERS=\(bench.markers.path)".utf8)
    guard FileManager.default.contents(atPath: "/proc/self/environ") != nil else {
      throw FixtureError(description: "/proc/self/environ cannot be read: cannot tell which processes run")
    }
    return try FileManager.default.contentsOfDirectory(atPath: "/proc").compactMap(Int32.init).filter { pid in
      // A zombie's environment reads empty; a process gone meanwhile cannot be read.
      guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return false }
      return data.split(separator: 0).contains { Array($0) == entry }
    }
  }

  /// Starts a hunt from v0.1 to main in the background, its output discarded.
  static func start(_ bench: Bench, _ arguments: [String]) throws -> Process {
    let process = Process()
    process.executableURL = bisectDeployExecutable
    process.arguments = ["--repo", bench.repo.path, "--good", "v0.1", "--bad", "main"] + arguments
    process.environment = bench.environment
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    return process
  }

  /// A deploy that notes when it ran, where, with which namespace and checkout.
  static let timedDeploy =
    "[ \"$BISECT_PHASE\" = restore ] && { echo \"$BISECT_ENVIRONMENT $BISECT_COMMIT\" >> \"$MARKERS/restored\"; exit 0; }; "
    + "start=$(date +%s.%N); sleep 0.4; "
    + "echo \"$BISECT_ENVIRONMENT $NAMESPACE $start $(date +%s.%N) $BISECT_CHECKOUT\" >> \"$MARKERS/deploys\""

  @Test("three environments test three commits per round, at the same time, each in its own workspace")
  func threeAtOnce() throws {
    let bench = try Bench(commits: 200, seed: 41)
    let culprit = try bench.commit(57)
    let config = try Self.configuration(in: bench)
    let output = try bench.hunt([
      "--config", config, "--deploy", Self.timedDeploy, "--test", bench.predicate(culprit: culprit), "--json",
    ])
    #expect(output.status == 0, "\(output.stderr)")
    let objects = try lines(output.stdout).map { line in
      try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }
    let result = try #require(objects.last)
    #expect((result["culprit"] as? [String: Any])?["id"] as? String == culprit)
    #expect(result["environments"] as? [String] == ["dev1", "dev2", "dev3"])

    let deploys = lines(bench.marker("deploys") ?? "").map { $0.split(separator: " ").map(String.init) }
    #expect(deploys.count >= 6)
    for fields in deploys {
      // Each environment's variables and workspace are its own.
      #expect(fields[1] == "ns-" + fields[0].dropFirst(3))
      #expect(fields[4].contains("/work/\(fields[0])/"), "\(fields[4])")
    }
    // Deploys in different environments overlapped in time: they ran at once.
    var overlaps = 0
    for (index, left) in deploys.enumerated() {
      for right in deploys[(index + 1)...] where left[0] != right[0] {
        if let a0 = Double(left[2]), let a1 = Double(left[3]), let b0 = Double(right[2]), let b1 = Double(right[3]),
          a0 < b1, b0 < a1
        {
          overlaps += 1
        }
      }
    }
    #expect(overlaps >= deploys.count / 2, "deploys: \(deploys)")
    // Every environment was used and restored at the end.
    #expect(Set(deploys.map { $0[0] }) == ["dev1", "dev2", "dev3"])
    let restored = Set(lines(bench.marker("restored") ?? "").map { String($0.split(separator: " ")[0]) })
    #expect(restored == ["dev1", "dev2", "dev3"])
    // At some moment three steps were deploying at once: one per environment.
    let intervals = deploys.compactMap { fields in Double(fields[2]).flatMap { a in Double(fields[3]).map { (a, $0) } }
    }
    let most = intervals.map { start in intervals.filter { $0.0 <= start.0 && start.0 < $0.1 }.count }.max() ?? 0
    #expect(most == 3, "at most \(most) deploys ran at once")
  }

  @Test("an environment whose deploys fail hands its commits to the others, then is retired; no commit is skipped")
  func failingEnvironment() throws {
    let bench = try Bench(commits: 150, seed: 43)
    let culprit = try bench.commit(33)
    let config = try Self.configuration(in: bench)
    let deploy = "[ \"$BISECT_ENVIRONMENT\" = dev2 ] && [ \"$BISECT_PHASE\" != restore ] && exit 1; exit 0"
    let output = try bench.hunt([
      "--config", config, "--deploy", deploy, "--test", bench.predicate(culprit: culprit), "--json",
    ])
    #expect(output.status == 0, "\(output.stderr)")
    let objects = try lines(output.stdout).map { line in
      try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }
    let result = try #require(objects.last)
    #expect((result["culprit"] as? [String: Any])?["id"] as? String == culprit)
    let verdicts = objects.filter { $0["event"] as? String == "verdict" }
    let moved = verdicts.filter { $0["moved"] as? Bool == true }
    #expect(!moved.isEmpty)
    #expect(moved.allSatisfy { $0["environment"] as? String == "dev2" })
    // Every commit dev2 failed got its verdict elsewhere: no skip reached the engine.
    #expect(!verdicts.contains { $0["verdict"] as? String == "skip" && $0["moved"] == nil })
    #expect(
      objects.contains { $0["event"] as? String == "environment-retired" && $0["environment"] as? String == "dev2" })
    #expect((result["retiredEnvironments"] as? [String: String])?["dev2"] != nil)
    // After retirement dev2 gets no more work.
    let retiredAt = try #require(objects.firstIndex { $0["event"] as? String == "environment-retired" })
    #expect(
      !objects[retiredAt...].contains {
        $0["event"] as? String == "step-started" && $0["environment"] as? String == "dev2"
      })
    // The hunt as git bisect log: moved deploys are not skips of their commits.
    let log = try bisectDeploy(["log", "--repo", bench.repo.path], environment: bench.environment)
    #expect(log.status == 0, "\(log.stderr)")
    #expect(log.stdout.contains("git bisect bad \(culprit)"))
    #expect(!log.stdout.contains("git bisect skip"))
  }

  @Test("every environment is locked for the hunt; a hunt on one of them alone is refused")
  func locks() throws {
    let bench = try Bench(commits: 60, seed: 45)
    let config = try Self.configuration(in: bench)
    let deploy =
      "[ \"$BISECT_PHASE\" = restore ] && exit 0; touch \"$MARKERS/deploying\"; sleep 300"
    let process = try Self.start(
      bench,
      [
        "--config", config, "--deploy", deploy,
        "--test", "exit 1",
      ])
    defer {
      if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
    let deadline = Date().addingTimeInterval(30)
    while bench.marker("deploying") == nil && Date() < deadline { usleep(20_000) }
    #expect(bench.marker("deploying") != nil)

    let alone = try bench.hunt(["--config", config, "--env", "dev2", "--test", "exit 0"])
    #expect(alone.status == 75, "\(alone.stdout)\(alone.stderr)")
    #expect(alone.stderr.contains("dev2"))

    kill(process.processIdentifier, SIGINT)
    process.waitUntilExit()
    #expect(process.terminationStatus == 130)
    // Ctrl-C released every lock: the single-environment hunt can now run (and finish).
    let culprit = try bench.commit(9)
    let after = try bench.hunt([
      "--config", config, "--env", "dev2", "--test", bench.predicate(culprit: culprit), "--quiet",
    ])
    #expect(after.status == 0, "\(after.stdout)\(after.stderr)")
  }

  @Test("Ctrl-C stops every running step, restores every environment and leaves nothing running")
  func interruptEveryEnvironment() throws {
    let bench = try Bench(commits: 60, seed: 47)
    let config = try Self.configuration(in: bench)
    let deploy =
      "if [ \"$BISECT_PHASE\" = restore ]; then echo \"$BISECT_ENVIRONMENT\" >> \"$MARKERS/restored\"; exit 0; fi; "
      + "sleep 300 & echo $! >> \"$MARKERS/sleepers\"; echo x >> \"$MARKERS/deploying\"; wait"
    let process = try Self.start(
      bench,
      [
        "--config", config, "--deploy", deploy,
        "--test", "exit 1", "--no-verify",
      ])
    let deadline = Date().addingTimeInterval(30)
    while lines(bench.marker("deploying") ?? "").count < 3 && Date() < deadline { usleep(20_000) }
    #expect(lines(bench.marker("deploying") ?? "").count == 3, "three deploys at once")
    kill(process.processIdentifier, SIGINT)
    process.waitUntilExit()
    #expect(process.terminationStatus == 130)
    #expect(Set(lines(bench.marker("restored") ?? "")) == ["dev1", "dev2", "dev3"])
    let sleepers = lines(bench.marker("sleepers") ?? "").compactMap { Int32($0) }
    #expect(sleepers.count == 3)
    for pid in sleepers { #expect(!isRunning(pid), "deploy child \(pid) survived") }
  }

  @Test("a parallel hunt killed mid-round resumes: the same culprit, recorded verdicts not run again")
  func resumeAfterKill() throws {
    let bench = try Bench(commits: 120, seed: 49)
    let culprit = try bench.commit(70)
    let config = try Self.configuration(in: bench)
    // Each test run appends a line; the third round's slowest step is where the kill lands.
    // Tests from then on hang until "killed" exists.
    let test =
      "echo \"$BISECT_COMMIT\" >> \"$MARKERS/tests\"; "
      + "[ \"$(wc -l < \"$MARKERS/tests\")\" -ge 8 ] && [ ! -e \"$MARKERS/killed\" ] && { echo $$ >> \"$MARKERS/hang\"; "
      + "while [ ! -e \"$MARKERS/killed\" ]; do sleep 0.05; done; }; "
      + bench.predicate(culprit: culprit)
    let process = try Self.start(
      bench,
      [
        "--config", config, "--test", test,
      ])
    let deadline = Date().addingTimeInterval(60)
    while lines(bench.marker("hang") ?? "").isEmpty && Date() < deadline { usleep(20_000) }
    #expect(!lines(bench.marker("hang") ?? "").isEmpty)
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    // The killed tool cannot stop its steps' processes: this test ends their hangs, then waits
    // until every process the hunt started has ended, so that none writes a marker after the
    // count below (a step started just before the kill may not have written its line yet).
    _ = FileManager.default.createFile(atPath: bench.markers.appendingPathComponent("killed").path, contents: nil)
    let ended = Date().addingTimeInterval(60)
    while try !Self.processes(of: bench).isEmpty && Date() < ended { usleep(20_000) }
    try #require(try Self.processes(of: bench).isEmpty, "steps of the killed hunt still run")
    let before = lines(bench.marker("tests") ?? "").count

    let resumed = try bench.hunt(["--config", config, "--test", test, "--json"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    let objects = try lines(resumed.stdout).map { line in
      try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }
    #expect((objects.last?["culprit"] as? [String: Any])?["id"] as? String == culprit)
    let replayed = objects.filter { $0["event"] as? String == "verdict" && $0["replayed"] as? Bool == true }
    #expect(replayed.count >= 4, "verdicts recorded before the kill are replayed")
    let rerun = lines(bench.marker("tests") ?? "").count - before
    let fresh = objects.filter { $0["event"] as? String == "verdict" && $0["replayed"] as? Bool != true }
    #expect(rerun == fresh.count, "only steps without a verdict ran")
  }

  @Test("under deploy_failure.then: abort, a deploy failing in one environment moves on; the hunt goes on")
  func abortPolicyMovesFirst() throws {
    let bench = try Bench(commits: 100, seed: 83)
    let culprit = try bench.commit(25)
    let config = try Self.configuration(in: bench, extra: "deploy_failure: {retries: 0, then: abort}")
    let deploy = "[ \"$BISECT_ENVIRONMENT\" = dev2 ] && [ \"$BISECT_PHASE\" != restore ] && exit 1; exit 0"
    let output = try bench.hunt(["--config", config, "--deploy", deploy, "--test", bench.predicate(culprit: culprit)])
    #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
    #expect(output.stdout.contains("The first bad commit is \(culprit)"))
  }

  @Test("verdicts of a hunt over several environments are reused by the next hunt over the same set")
  func reuseAcrossEnvironments() throws {
    let bench = try Bench(commits: 100, seed: 85)
    let culprit = try bench.commit(44)
    let config = try Self.configuration(in: bench)
    let test = "echo \"$BISECT_COMMIT\" >> \"$MARKERS/tests\"; " + bench.predicate(culprit: culprit)
    let first = try bench.hunt(["--config", config, "--test", test, "--reuse-verdicts", "--quiet", "--no-verify"])
    #expect(first.status == 0, "\(first.stderr)")
    let tested = lines(bench.marker("tests") ?? "").count
    let second = try bench.hunt(["--config", config, "--test", test, "--reuse-verdicts", "--json", "--no-verify"])
    #expect(second.status == 0, "\(second.stderr)")
    let result = try #require(
      try lines(second.stdout).compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        .last)
    #expect((result["culprit"] as? [String: Any])?["id"] as? String == culprit)
    #expect((result["reused"] as? [String])?.count == tested, "every verdict of the first hunt is reused")
    #expect(lines(bench.marker("tests") ?? "").count == tested, "the second hunt tested nothing")
  }

  @Test("a hunt refused because one of its environments is busy leaves no unfinished hunt behind")
  func refusedLeavesNothing() throws {
    let bench = try Bench(commits: 60, seed: 87)
    let config = try Self.configuration(in: bench)
    let process = try Self.start(
      bench,
      [
        "--config", config, "--env", "dev2",
        "--deploy", "[ \"$BISECT_PHASE\" = restore ] && exit 0; touch \"$MARKERS/deploying\"; sleep 300", "--test",
        "exit 1",
      ])
    defer {
      if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
    let deadline = Date().addingTimeInterval(30)
    while bench.marker("deploying") == nil && Date() < deadline { usleep(20_000) }
    let refused = try bench.hunt(["--config", config, "--test", "exit 0"])
    #expect(refused.status == 75, "\(refused.stderr)")
    kill(process.processIdentifier, SIGINT)
    process.waitUntilExit()
    let database = bench.repo.appendingPathComponent(".git/bisect-deploy/state.sqlite")
    let rows = try StateTests.sqlite(
      database, "SELECT environment || ' ' || ifnull(substr(outcome, 1, 8), 'open') FROM hunts ORDER BY id")
    #expect(lines(rows) == ["dev2 open", "dev1,dev2,dev3 refused:"], "\(rows)")
    let leases = try StateTests.sqlite(database, "SELECT count(*) FROM leases")
    #expect(leases == "0")
  }

  @Test("environment names must be safe folder names, and a protected one in a list is refused")
  func environmentNames() throws {
    let bench = try Bench(commits: 30, seed: 89)
    let state = bench.repo.appendingPathComponent(".git/bisect-deploy")
    for name in ["..", "a/b", "."] {
      let output = try bench.hunt(["--env", name, "--test", "exit 0"])
      #expect(output.status == 78, "\(name): \(output.stderr)")
      #expect(output.stderr.contains("Environment name '\(name)' is not allowed"))
    }
    #expect(!FileManager.default.fileExists(atPath: state.path), "nothing was created or removed")
    let config = try Self.configuration(in: bench)
    let protected = try bench.hunt(["--config", config, "--env", "dev1,prod", "--test", "exit 0"])
    #expect(protected.status == 77, "\(protected.stderr)")
  }
}
