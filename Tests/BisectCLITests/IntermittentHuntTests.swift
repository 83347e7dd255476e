import Foundation
import TestSupport
import Testing

/// Intermittent regressions end to end, through the release binary: bad commits fail only
/// some of their runs, the rates are not given, deploys are counted.
@Suite struct IntermittentHuntTests {
  typealias Bench = HuntTests.Bench

  /// A test whose answer depends on the commit and how many times it ran in this hunt only
  /// (seeded: every run of the suite gives the same answers): commits with `culprit` in their
  /// history fail `bad` percent of their runs, the others `good` percent. Each run is
  /// appended to "$MARKERS/all-runs".
  static func intermittentTest(_ bench: Bench, culprit: String, bad: Int, good: Int, seed: Int) throws -> String {
    let script = bench.markers.appendingPathComponent("intermittent.sh")
    try """
    n=$(cat "$MARKERS/runs-$BISECT_COMMIT" 2>/dev/null || echo 0); n=$((n + 1))
    echo "$n" > "$MARKERS/runs-$BISECT_COMMIT"
    echo "$BISECT_COMMIT" >> "$MARKERS/all-runs"
    r=$(printf '%s' "\(seed):$BISECT_COMMIT:$n" | cksum | cut -d' ' -f1); r=$((r % 100))
    if git -C "$BISECT_REPO" merge-base --is-ancestor \(culprit) "$BISECT_COMMIT"; then
      [ "$r" -lt \(bad) ] && exit 1; exit 0
    fi
    [ "$r" -lt \(good) ] && exit 1; exit 0
    """.write(to: script, atomically: true, encoding: .utf8)
    return "sh \(script.path)"
  }

  /// Records each deploy's commit and phase in "$MARKERS/deploys".
  static let countingDeploy = "echo \"$BISECT_COMMIT $BISECT_PHASE\" >> \"$MARKERS/deploys\""

  static func deploys(_ bench: Bench) -> [String] {
    lines(bench.marker("deploys") ?? "").filter { !$0.hasSuffix(" restore") }
  }

  static func result(_ output: ProcessOutput) throws -> [String: Any] {
    try #require(try FlakyHuntTests.decode(output).last)
  }

  @Test(
    "a regression that fails one run in two, rates not given: --flaky names it with its probability, both failure rates, the runs and the deploys",
    arguments: [(41, 9), (43, 22)])
  func halfTheRuns(seed: Int, index: Int) throws {
    let bench = try Bench(commits: 60, seed: seed)
    let culprit = try bench.commit(index)
    let test = try Self.intermittentTest(bench, culprit: culprit, bad: 50, good: 2, seed: seed)
    let output = try bench.hunt(["--deploy", Self.countingDeploy, "--test", test, "--flaky", "--json"])
    #expect(output.status == 0, "\(output.stderr)")
    let result = try Self.result(output)
    #expect((result["culprit"] as? [String: Any])?["id"] as? String == culprit)
    let probabilistic = try #require(result["probabilistic"] as? [String: Any])
    #expect(probabilistic["reason"] as? String == "confident")
    #expect((probabilistic["probability"] as? Double ?? 0) >= 0.99)
    // Every run and every deploy counted, the endpoint checks' included; fewer deploys than
    // runs: the search tested again where a commit was deployed.
    let runs = lines(bench.marker("all-runs") ?? "").count
    #expect(probabilistic["testRuns"] as? Int == runs)
    let deploys = Self.deploys(bench).count
    #expect(probabilistic["deploys"] as? Int == deploys)
    #expect(deploys < runs, "\(deploys) deploys for \(runs) runs")
    let rates = try #require(probabilistic["failureRates"] as? [String: Double])
    #expect((rates["after"] ?? 0) > 0.2 && (rates["before"] ?? 1) < 0.15, "\(rates)")
    let retests = try FlakyHuntTests.decode(output).filter {
      $0["event"] as? String == "verdict" && $0["retest"] != nil
    }
    #expect(retests.count == runs - deploys, "a run without a deploy is a step marked retest")

    // The same hunt in words: the culprit's rates, runs and deploys.
    let plain = try bench.hunt(["--deploy", "true", "--test", test, "--flaky"])
    #expect(plain.status == 0)
    #expect(plain.stdout.contains("of runs from \(culprit.prefix(7)) on, "), "\(plain.stdout)")
    #expect(plain.stdout.contains(" deploys)"), "\(plain.stdout)")
  }

  @Test(
    "killed with SIGKILL while testing a commit again, the resumed hunt keeps every run before and names the culprit")
  func resumeAfterKillDuringARetest() throws {
    let bench = try Bench(commits: 60, seed: 47)
    let culprit = try bench.commit(17)
    let test = try Self.intermittentTest(bench, culprit: culprit, bad: 50, good: 2, seed: 47)
    // The first run with no deploy since the run before (a test again where the commit is
    // deployed) hangs, once: the tool is killed there.
    let deploy = "echo \"$BISECT_COMMIT $BISECT_PHASE\" >> \"$MARKERS/deploys\"; echo x >> \"$MARKERS/since\""
    let hanging =
      "if [ ! -e \"$MARKERS/hung\" ] && [ -e \"$MARKERS/tested\" ] && [ ! -s \"$MARKERS/since\" ]; then "
      + "echo $$ > \"$MARKERS/hung\"; exec sleep 60; fi; : > \"$MARKERS/since\"; touch \"$MARKERS/tested\"; " + test
    let state = bench.directory.url.appendingPathComponent("state.sqlite").path
    let hunt = try WatchedProcess(
      bisectDeployExecutable.path,
      [
        "--repo", bench.repo.path, "--good", "v0.1", "--bad", "main", "--deploy", deploy, "--test", hanging, "--flaky",
        "--state", state, "--json",
      ], environment: bench.environment, in: bench.directory.url)
    let hung = bench.markers.appendingPathComponent("hung")
    _ = hunt.waitFor(hung, seconds: 120)
    let pid = try #require(
      (try? String(contentsOf: hung, encoding: .utf8)).flatMap {
        Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
      }, "no run was a test again without a deploy")
    kill(hunt.pid, SIGKILL)
    _ = hunt.wait()
    // The hung test dies with the tool (its watchdog kills the group); stopped here as well.
    kill(pid, SIGKILL)
    let runsBefore = lines(bench.marker("all-runs") ?? "").count
    #expect(runsBefore >= 3)

    let resumed = try bisectDeploy(
      ["resume", "--repo", bench.repo.path, "--state", state], environment: bench.environment)
    #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
    let objects = try FlakyHuntTests.decode(resumed)
    let result = try #require(objects.last)
    #expect((result["culprit"] as? [String: Any])?["id"] as? String == culprit)
    // Every run stored before the kill was replayed, not run again; the killed one ran again.
    let replayed = objects.filter { $0["event"] as? String == "verdict" && $0["replayed"] as? Bool == true }
    #expect(replayed.count == runsBefore, "\(replayed.count) replayed of \(runsBefore) runs before the kill")
    let probabilistic = try #require(result["probabilistic"] as? [String: Any])
    #expect(probabilistic["testRuns"] as? Int == lines(bench.marker("all-runs") ?? "").count)
  }

  @Test("in two environments each tests again what it has deployed, and the culprit is named")
  func twoEnvironments() throws {
    let bench = try Bench(commits: 60, seed: 53)
    let culprit = try bench.commit(30)
    let test = try Self.intermittentTest(bench, culprit: culprit, bad: 60, good: 2, seed: 53)
    let deploy = "echo \"$BISECT_COMMIT $BISECT_PHASE $BISECT_ENVIRONMENT\" >> \"$MARKERS/deploys\""
    let output = try bench.hunt(["--deploy", deploy, "--test", test, "--flaky", "--env", "dev1,dev2", "--json"])
    #expect(output.status == 0, "\(output.stderr)")
    let objects = try FlakyHuntTests.decode(output)
    #expect((try #require(objects.last)["culprit"] as? [String: Any])?["id"] as? String == culprit)
    let verdicts = objects.filter { $0["event"] as? String == "verdict" }
    #expect(Set(verdicts.compactMap { $0["environment"] as? String }) == ["dev1", "dev2"])
    // A test again runs where its commit was last deployed, never elsewhere.
    var deployed = [String: String]()
    var retests = 0
    for verdict in verdicts {
      guard let environment = verdict["environment"] as? String, let commit = verdict["commit"] as? String else {
        continue
      }
      if verdict["retest"] as? Bool == true {
        #expect(
          deployed[environment] == commit, "step \(verdict["step"] ?? "?") tested \(commit) again in \(environment)")
        retests += 1
      } else {
        deployed[environment] = commit
      }
    }
    #expect(retests > 0)
  }

  @Test(
    "a test that never fails: --flaky says 'no regression' with the counts at both ends (exit 3), after more than one run of bad"
  )
  func noRegression() throws {
    let bench = try Bench(commits: 40, seed: 59)
    // Costs given, not measured: both hunts below plan alike.
    let options = ["--deploy", Self.countingDeploy, "--test", "exit 0", "--deploy-cost", "3s", "--test-cost", "1s"]
    let output = try bench.hunt(options + ["--json"])
    #expect(output.status == 3, "\(output.stdout)\(output.stderr)")
    let result = try Self.result(output)
    #expect(result["outcome"] as? String == "no-regression")
    let probabilistic = try #require(result["probabilistic"] as? [String: Any])
    #expect(probabilistic["reason"] as? String == "no-regression")
    #expect((probabilistic["noRegression"] as? Double ?? 0) >= 0.99)
    let bad = try #require(probabilistic["bad"] as? [String: Int])
    let good = try #require(probabilistic["good"] as? [String: Int])
    #expect(bad["fails"] == 0 && good["fails"] == 0)
    #expect((bad["runs"] ?? 0) > 3, "one or a few passes of bad never end the hunt: \(bad)")

    let words = try bench.hunt(options)
    #expect(words.status == 3)
    #expect(
      words.stdout.contains(
        "fails as often as good: bad failed 0 of \(bad["runs"] ?? -1) runs, good 0 of \(good["runs"] ?? -1)"),
      "\(words.stdout)")
  }

  @Test(
    "without --flaky, a bad that passes its check says the test looks intermittent and gives the command, which runs")
  func suggestsFlaky() throws {
    let bench = try Bench(commits: 40, seed: 61)
    let culprit = try bench.commit(12)
    // Bad passes its first run only; every other answer is right.
    let test =
      "[ \"$BISECT_PHASE\" = verify-bad ] && [ ! -e \"$MARKERS/once\" ] && touch \"$MARKERS/once\" && exit 0; "
      + bench.predicate(culprit: culprit)
    let output = try bench.hunt(["--test", test])
    #expect(output.status == 3, "\(output.stdout)")
    #expect(output.stdout.contains("The test looks intermittent (bad "), "\(output.stdout)")
    try FileManager.default.removeItem(at: bench.markers.appendingPathComponent("once"))
    let json = try bench.hunt(["--test", test, "--json"])
    let hint = try #require(try Self.result(json)["intermittent"] as? [String: Any])
    let arguments = try #require(hint["arguments"] as? [String]).filter { $0 != "--json" }
    #expect(arguments.last == "--flaky")
    #expect(output.stdout.contains("  bisect-deploy --repo "), "\(output.stdout)")
    // The suggested command, as given, finds the culprit (bad fails from now on).
    let rerun = try bisectDeploy(arguments, environment: bench.environment)
    #expect(rerun.status == 0, "\(rerun.stdout)\(rerun.stderr)")
    #expect(rerun.stdout.contains("The first bad commit is \(culprit)"))
  }
}
