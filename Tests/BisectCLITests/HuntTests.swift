import Foundation
import TestSupport
import Testing

/// Whole hunts through the real executable, with real shell scripts as deploy and test.
@Suite struct HuntTests {
  /// A generated history plus a folder for the scripts' marker files.
  struct Bench {
    let directory: TemporaryDirectory
    let repo: URL
    let markers: URL

    init(commits: Int = 120, seed: Int = 31, mergeRatio: Double = 0.2) throws {
      directory = try TemporaryDirectory()
      repo = try makeHistory(HistoryShape(commits: commits, seed: seed, mergeRatio: mergeRatio), in: directory.url)
      markers = directory.url.appendingPathComponent("markers")
      try FileManager.default.createDirectory(at: markers, withIntermediateDirectories: true)
    }

    /// The n-th commit of main's full history, newest first.
    func commit(_ index: Int) throws -> String {
      lines(try git(["rev-list", "v0.1..main"], in: repo))[index]
    }

    /// A test that fails exactly when `culprit` is in the deployed commit's history.
    func predicate(culprit: String) -> String {
      "git -C \"$BISECT_REPO\" merge-base --is-ancestor \(culprit) \"$BISECT_COMMIT\" && exit 1; exit 0"
    }

    var environment: [String: String] {
      var environment = gitEnvironment
      environment["MARKERS"] = markers.path
      return environment
    }

    func hunt(_ arguments: [String]) throws -> ProcessOutput {
      try bisectDeploy(["--repo", repo.path, "--good", "v0.1", "--bad", "main"] + arguments, environment: environment)
    }

    /// Starts a hunt in the background and returns once its deploy command has begun
    /// (the deploy touches "$MARKERS/deploying").
    func startHunt(deploy: String) throws -> Process {
      let process = Process()
      process.executableURL = bisectDeployExecutable
      process.arguments = [
        "--repo", repo.path, "--good", "v0.1", "--bad", "main", "--deploy", deploy, "--test", "exit 1",
      ]
      process.environment = environment
      process.standardOutput = FileHandle.nullDevice
      process.standardError = FileHandle.nullDevice
      try process.run()
      let deadline = Date().addingTimeInterval(30)
      while marker("deploying") == nil && Date() < deadline { usleep(20_000) }
      return process
    }

    func marker(_ name: String) -> String? {
      try? String(contentsOf: markers.appendingPathComponent(name), encoding: .utf8)
    }
  }

  /// Records every deploy: "restore" deploys in their own file.
  static let recordingDeploy =
    "echo \"$BISECT_COMMIT\" >> \"$MARKERS/deploys\"; [ \"$BISECT_PHASE\" = restore ] && echo \"$BISECT_COMMIT\" > \"$MARKERS/restored\"; true"

  @Test(
    "finds the planted culprit, as git bisect would, and restores the last good commit", arguments: [3, 17, 40, 71])
  func findsCulprit(index: Int) throws {
    let bench = try Bench()
    let culprit = try bench.commit(index)
    let output = try bench.hunt(["--deploy", Self.recordingDeploy, "--test", bench.predicate(culprit: culprit)])
    #expect(output.status == 0, "\(output.stderr)")
    #expect(output.stdout.contains("The first bad commit is \(culprit)"))
    // Restored to a commit that tested good, which does not contain the culprit.
    let restored = try #require(bench.marker("restored")).trimmingCharacters(in: .whitespacesAndNewlines)
    let contains = try runProcess(
      "/usr/bin/env", ["git", "merge-base", "--is-ancestor", culprit, restored], in: bench.repo,
      environment: gitEnvironment)
    #expect(contains.status == 1, "the restored commit \(restored) must not contain the culprit")
    #expect(output.stdout.contains("Restored default to \(restored.prefix(7))"))
  }

  @Test("--json prints only JSON objects on stdout, one per event, ending with the result")
  func jsonEvents() throws {
    let bench = try Bench()
    let culprit = try bench.commit(12)
    let output = try bench.hunt(["--test", bench.predicate(culprit: culprit), "--json"])
    #expect(output.status == 0)
    let objects = try lines(output.stdout).map { line in
      try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
    }
    let events = objects.compactMap { $0["event"] as? String }
    #expect(events.count == objects.count)
    // The environments are leased first (a hunt may wait for them), then the hunt starts.
    #expect(Array(events.prefix(2)) == ["environments-leased", "started"])
    #expect(events.last == "result")
    #expect(events.contains("verdict") && events.contains("step-started"))
    let result = try #require(objects.last)
    #expect(result["outcome"] as? String == "culprit")
    #expect((result["culprit"] as? [String: Any])?["id"] as? String == culprit)
    #expect(result["exitCode"] as? Int == 0)
    #expect(output.stderr.isEmpty, "progress goes to stdout as JSON in this mode")
  }

  @Test("--report writes a Markdown and an HTML report with the picture; report reprints a past hunt")
  func reports() throws {
    let bench = try Bench()
    let culprit = try bench.commit(15)
    let html = bench.directory.url.appendingPathComponent("hunt.html")
    let output = try bench.hunt(["--test", bench.predicate(culprit: culprit), "--quiet", "--report", html.path])
    #expect(output.status == 0)
    let page = try String(contentsOf: html, encoding: .utf8)
    #expect(page.contains("<svg"))
    #expect(page.contains(culprit))
    // The only addresses on the page are the XHTML and SVG namespaces, which load nothing.
    #expect(!page.replacing(#/xmlns='[^']*'/#, with: "").contains("://"))

    let markdown = try bisectDeploy(["report", "--repo", bench.repo.path], environment: bench.environment)
    #expect(markdown.status == 0)
    #expect(markdown.stdout.contains(String(culprit.prefix(7))))
    #expect(markdown.stdout.contains("| "), "the steps table")
    let file = bench.directory.url.appendingPathComponent("hunt.md")
    #expect(
      try bisectDeploy(["report", "--repo", bench.repo.path, "-o", file.path], environment: bench.environment).status
        == 0)
    #expect(try String(contentsOf: file, encoding: .utf8) == markdown.stdout)
  }

  @Test("without a deploy command only the test runs, as with git bisect run")
  func testOnly() throws {
    let bench = try Bench()
    let culprit = try bench.commit(10)
    let output = try bench.hunt(["--test", bench.predicate(culprit: culprit), "--quiet"])
    #expect(output.status == 0)
    #expect(output.stdout.contains(culprit))
    #expect(output.stderr.isEmpty, "--quiet prints nothing but the summary")
  }

  @Test("skipped commits are avoided; when the culprit itself is skipped the answer is the honest set")
  func skips() throws {
    let bench = try Bench()
    let culprit = try bench.commit(30)
    // A child of the culprit: the culprit and its parents still get verdicts, so the answer is exact.
    let skipped = try #require(
      lines(try git(["rev-list", "--parents", "v0.1..main"], in: bench.repo)).first {
        $0.split(separator: " ").dropFirst().contains(Substring(culprit))
      }?.prefix(40))
    let skipAround =
      "[ \"$BISECT_COMMIT\" = \(skipped) ] && { touch \"$MARKERS/skipped\"; exit 125; }; "
      + bench.predicate(culprit: culprit)
    let around = try bench.hunt(["--test", skipAround, "--quiet"])
    #expect(around.status == 0, "\(around.stdout)")
    #expect(around.stdout.contains("The first bad commit is \(culprit)"))
    #expect(bench.marker("skipped") != nil, "the hunt met the skipped commit")

    let skipCulprit = "[ \"$BISECT_COMMIT\" = \(culprit) ] && exit 125; " + bench.predicate(culprit: culprit)
    let output = try bench.hunt(["--test", skipCulprit, "--quiet"])
    #expect(output.status == 4, "\(output.stdout)")
    #expect(output.stdout.contains("one of"))
    #expect(output.stdout.contains(culprit))
  }

  @Test("a deploy that fails once is retried; one that always fails skips the commit")
  func deployRetries() throws {
    let bench = try Bench()
    let culprit = try bench.commit(20)
    // Fails the first attempt for every commit, succeeds on the retry.
    let flaky =
      "f=\"$MARKERS/tried-$BISECT_COMMIT-$BISECT_STEP\"; [ -e \"$f\" ] && exit 0; touch \"$f\"; echo first try fails; exit 3"
    let output = try bench.hunt(["--deploy", flaky, "--test", bench.predicate(culprit: culprit), "--restore", "none"])
    #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
    #expect(output.stdout.contains(culprit))
    #expect(output.stderr.contains("deploy-retry1.log") == false, "successful retries are not shown as failures")
    #expect(output.stderr.contains("first try fails"))

    let broken = try bench.commit(25)
    let failsThere = "[ \"$BISECT_COMMIT\" = \(broken) ] && exit 1; exit 0"
    let skipping = try bench.hunt([
      "--deploy", failsThere, "--test", bench.predicate(culprit: culprit), "--restore", "none",
    ])
    #expect(skipping.status == 0)
    #expect(skipping.stdout.contains(culprit))
  }

  @Test("a hung deploy with a grandchild is stopped at its timeout and nothing survives")
  func hungDeploy() throws {
    // A line of 40: the first two steps (and so the two skipped commits) are near its middle,
    // far from the culprit near the tip and its parent, so the answer is exact.
    let bench = try Bench(commits: 40, seed: 5, mergeRatio: 0)
    let culprit = try bench.commit(5)
    let config = bench.directory.url.appendingPathComponent("hung.yml")
    // The first two deploys hang (a grandchild, and one that ignores SIGTERM); later ones work.
    try """
    deploy: '[ "$BISECT_STEP" -gt 2 ] && exit 0; sleep 300 & echo $! >> "$MARKERS/pids"; sh -c "trap \\"\\" TERM; sleep 300" & echo $! >> "$MARKERS/pids"; wait'
    timeouts:
      deploy: 1
      grace: 0.3
    deploy_failure:
      retries: 0
      then: skip
    restore: none
    verify_endpoints: false
    """.write(to: config, atomically: true, encoding: .utf8)
    let started = Date()
    let output = try bench.hunt(["--config", config.path, "--test", bench.predicate(culprit: culprit)])
    #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
    #expect(output.stdout.contains("The first bad commit is \(culprit)"))
    #expect(output.stderr.contains("timed out"), "the timeout is shown with the log tail")
    #expect(Date().timeIntervalSince(started) < 20)
    let pids = lines(bench.marker("pids") ?? "").compactMap { Int32($0) }
    #expect(pids.count == 4, "two hung deploys, two processes each")
    for pid in pids { #expect(!isRunning(pid), "process \(pid) survived") }
  }

  @Test("Ctrl-C in the middle of a deploy stops it, runs the restore step and exits 130")
  func interrupt() throws {
    let bench = try Bench(commits: 40, seed: 6)
    let deploy =
      "if [ \"$BISECT_PHASE\" = restore ]; then echo \"$BISECT_COMMIT\" > \"$MARKERS/restored\"; exit 0; fi; "
      + "sleep 300 & echo $! > \"$MARKERS/sleeper\"; touch \"$MARKERS/deploying\"; wait"
    let process = try bench.startHunt(deploy: deploy)
    #expect(bench.marker("deploying") != nil)
    kill(process.processIdentifier, SIGINT)
    process.waitUntilExit()
    #expect(process.terminationReason == .exit)
    #expect(process.terminationStatus == 130)
    let good = lines(try git(["rev-parse", "v0.1^{commit}"], in: bench.repo))[0]
    #expect(bench.marker("restored")?.trimmingCharacters(in: .whitespacesAndNewlines) == good)
    let sleeper = Int32((bench.marker("sleeper") ?? "").trimmingCharacters(in: .whitespacesAndNewlines))
    #expect(sleeper.map { !isRunning($0) } == true, "the deploy's child was stopped")
  }

  @Test("SIGTERM stops the hunt like Ctrl-C, restores, and exits 143; --max-duration exits 8 after restoring")
  func terminateAndDeadline() throws {
    let bench = try Bench(commits: 40, seed: 12)
    let deploy =
      "if [ \"$BISECT_PHASE\" = restore ]; then echo \"$BISECT_COMMIT\" > \"$MARKERS/restored\"; exit 0; fi; "
      + "touch \"$MARKERS/deploying\"; sleep 300"
    let process = try bench.startHunt(deploy: deploy)
    kill(process.processIdentifier, SIGTERM)
    process.waitUntilExit()
    #expect(process.terminationStatus == 143)
    #expect(bench.marker("restored") != nil)

    try FileManager.default.removeItem(at: bench.markers.appendingPathComponent("restored"))
    let started = Date()
    let timed = try bench.hunt(["--deploy", deploy, "--test", "exit 1", "--max-duration", "1.5", "--restore", "v0.1~1"])
    #expect(timed.status == 8, "\(timed.stdout)")
    #expect(Date().timeIntervalSince(started) < 20)
    #expect(timed.stdout.contains("--max-duration ran out"))
    let expected = lines(try git(["rev-parse", "v0.1~1"], in: bench.repo))[0]
    #expect(bench.marker("restored")?.trimmingCharacters(in: .whitespacesAndNewlines) == expected)
  }

  @Test("restore: original deploys again what restore.original_command says was deployed before")
  func restoreOriginal() throws {
    let bench = try Bench(commits: 40, seed: 13)
    let before = lines(try git(["rev-parse", "main~2"], in: bench.repo))[0]
    try (before + "\n").write(to: bench.markers.appendingPathComponent("deployed"), atomically: true, encoding: .utf8)
    let config = bench.directory.url.appendingPathComponent("original.yml")
    try """
    deploy: 'echo "$BISECT_COMMIT" > "$MARKERS/deployed"'
    restore:
      to: original
      original_command: 'echo checking what runs now; cat "$MARKERS/deployed"'
    """.write(to: config, atomically: true, encoding: .utf8)
    let culprit = try bench.commit(8)
    let output = try bench.hunt(["--config", config.path, "--test", bench.predicate(culprit: culprit), "--quiet"])
    #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
    #expect(bench.marker("deployed")?.trimmingCharacters(in: .whitespacesAndNewlines) == before)
    #expect(output.stdout.contains("Restored default to \(before.prefix(7))"))

    try "restore:\n  to: original\n".write(to: config, atomically: true, encoding: .utf8)
    let missing = try bench.hunt(["--config", config.path, "--test", "exit 0", "--quiet"])
    #expect(missing.status == 7)
    #expect(missing.stdout.contains("original_command"))
  }

  @Test("a protected environment is refused unless named with --allow-protected")
  func protectedEnvironment() throws {
    let bench = try Bench(commits: 30, seed: 7)
    let config = bench.directory.url.appendingPathComponent("envs.yml")
    try """
    test: exit 0
    environments:
      dev: {}
      prod:
        protected: true
        variables:
          CLUSTER: prod-cluster
    """.write(to: config, atomically: true, encoding: .utf8)
    let refused = try bench.hunt(["--config", config.path, "--env", "prod", "--deploy", Self.recordingDeploy])
    #expect(refused.status == 77)
    #expect(refused.stderr.contains("protected") && refused.stderr.contains("--allow-protected prod"))
    #expect(bench.marker("deploys") == nil, "nothing was deployed")

    let culprit = try bench.commit(3)
    let allowed = try bench.hunt([
      "--config", config.path, "--env", "prod", "--allow-protected", "prod", "--quiet",
      "--test", "[ \"$CLUSTER\" = prod-cluster ] || exit 200; " + bench.predicate(culprit: culprit),
    ])
    #expect(allowed.status == 0, "\(allowed.stdout)")
  }

  @Test("endpoints that contradict stop the hunt without blaming anyone")
  func contradictions() throws {
    let bench = try Bench(commits: 30, seed: 8)
    let allGood = try bench.hunt(["--test", "exit 0", "--quiet"])
    #expect(allGood.status == 3)
    #expect(allGood.stdout.contains("No regression"))
    let allBad = try bench.hunt(["--test", "exit 1", "--quiet"])
    #expect(allBad.status == 5)
    #expect(allBad.stdout.contains("contradict"))
    #expect(!allBad.stdout.contains("first bad commit"))
    let abort = try bench.hunt(["--test", "exit 200", "--quiet"])
    #expect(abort.status == 7)
  }

  @Test("a restore target that names nothing is refused before anything is deployed")
  func unknownRestoreTarget() throws {
    let bench = try Bench(commits: 30, seed: 81)
    let output = try bench.hunt([
      "--deploy", "echo deployed >> \"$MARKERS/deploys\"", "--test", "exit 1", "--restore", "no-such-tag",
    ])
    #expect(output.status == 65, "\(output.stderr)")
    #expect(output.stderr.contains("The restore target 'no-such-tag'"))
    #expect(bench.marker("deploys") == nil, "nothing was deployed")
  }

  @Test("a broken configuration names its file, line and key")
  func configurationErrors() throws {
    let bench = try Bench(commits: 20, seed: 9)
    let config = bench.repo.appendingPathComponent("bisect-deploy.yml")
    try "test: exit 0\ntimeouts:\n  deploy: soon\n".write(to: config, atomically: true, encoding: .utf8)
    let output = try bench.hunt([])
    #expect(output.status == 78)
    #expect(output.stderr.contains("bisect-deploy.yml:3") && output.stderr.contains("'deploy'"))

    try "test: exit 0\ntest_timeout_means: maybe\n".write(to: config, atomically: true, encoding: .utf8)
    let badValue = try bench.hunt([])
    #expect(badValue.status == 78)
    #expect(badValue.stderr.contains(":2") && badValue.stderr.contains("test_timeout_means"))

    try "deploy: [unclosed\n".write(to: config, atomically: true, encoding: .utf8)
    let syntax = try bench.hunt([])
    #expect(syntax.status == 78)
    #expect(syntax.stderr.contains("not valid YAML"))

    try FileManager.default.removeItem(at: config)
    let noTest = try bench.hunt([])
    #expect(noTest.status == 78)
    #expect(noTest.stderr.contains("--test"))
  }
}

/// True when `pid` is a live process (zombies count as gone). Without a readable /proc it
/// records an issue and answers true: a "nothing survives" check then fails instead of
/// passing without having looked.
func isRunning(_ pid: Int32) -> Bool {
  guard FileManager.default.isReadableFile(atPath: "/proc/self/stat") else {
    Issue.record("/proc cannot be read: cannot check whether process \(pid) runs")
    return true
  }
  guard let status = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
  // The state letter follows the command name in parentheses.
  guard let close = status.lastIndex(of: ")") else { return false }
  let state = status[status.index(close, offsetBy: 2)]
  return state != "Z" && state != "X"
}
