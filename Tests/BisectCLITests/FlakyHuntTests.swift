import Foundation
import TestSupport
import Testing

/// The probabilistic mode end to end: a real hunt whose smoke test lies on purpose.
@Suite struct FlakyHuntTests {
  typealias Bench = HuntTests.Bench

  /// A test that fails about one run in `every` on good commits (a kernel start timing out on
  /// a busy node), decided by the commit and the run number so that every run of the suite is
  /// the same; bad commits always fail.
  static func noisyTest(_ bench: Bench, culprit: String, every: Int) -> String {
    "n=$(cat \"$MARKERS/runs-$BISECT_COMMIT\" 2>/dev/null || echo 0); n=$((n + 1)); "
      + "echo \"$n\" > \"$MARKERS/runs-$BISECT_COMMIT\"; echo \"$BISECT_COMMIT\" >> \"$MARKERS/all-runs\"; "
      + bench.predicate(culprit: culprit).replacingOccurrences(of: "; exit 0", with: "; ")
      + "h=$(printf '%s' \"$BISECT_COMMIT\" | cut -c1-6); "
      + "[ $(( (0x$h + n * 7919) % \(every) )) -eq 0 ] && exit 1; exit 0"
  }

  static func decode(_ output: ProcessOutput) throws -> [[String: Any]] {
    try lines(output.stdout).map { line in
      try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }
  }

  @Test("with a test that fails good commits one time in eight, --flaky names the culprit with its probability")
  func namesTheCulprit() throws {
    for (seed, index) in [(71, 13), (73, 40), (75, 66)] {
      let bench = try Bench(commits: 100, seed: seed)
      let culprit = try bench.commit(index)
      let output = try bench.hunt([
        "--test", Self.noisyTest(bench, culprit: culprit, every: 8), "--flaky", "--false-bad", "0.1",
        "--false-good", "0.01", "--json",
      ])
      #expect(output.status == 0, "\(output.stderr)")
      let result = try #require(try Self.decode(output).last)
      #expect((result["culprit"] as? [String: Any])?["id"] as? String == culprit)
      let probabilistic = try #require(result["probabilistic"] as? [String: Any])
      #expect(probabilistic["reason"] as? String == "confident")
      #expect((probabilistic["probability"] as? Double ?? 0) >= 0.99)
      #expect(probabilistic["runnerUp"] as? String != nil)
      // Every test run counted, the endpoint checks' included.
      let runs = lines(bench.marker("all-runs") ?? "").count
      #expect(probabilistic["testRuns"] as? Int == runs)
    }
  }

  @Test("a budget too small to be sure gives the two most likely commits and their probabilities, exit 4")
  func budgetSpent() throws {
    let bench = try Bench(commits: 100, seed: 77)
    let culprit = try bench.commit(30)
    let output = try bench.hunt([
      "--test", Self.noisyTest(bench, culprit: culprit, every: 8), "--flaky", "--budget", "5", "--no-verify",
    ])
    #expect(output.status == 4, "\(output.stdout)\(output.stderr)")
    #expect(output.stdout.contains("No commit reached the confidence asked"))
    #expect(output.stdout.contains("the budget spent after 5 test runs"))
    #expect(output.stdout.contains("runner-up"))
  }

  @Test("--flaky and --descend together are refused with a clear message")
  func refusesDescend() throws {
    let bench = try Bench(commits: 30, seed: 79)
    let output = try bench.hunt(["--test", "exit 0", "--flaky", "--descend"])
    #expect(output.status == 78)
    #expect(output.stderr.contains("descend and flaky cannot be combined"))
  }

  @Test("nothing to blame is said as such (exit 6), not blamed on the tip")
  func emptyRange() throws {
    let bench = try Bench(commits: 30, seed: 91)
    let output = try bench.hunt(["--test", "exit 1", "--flaky", "--no-verify", "--", "no/such/path"])
    #expect(output.status == 6, "\(output.stdout)\(output.stderr)")
  }

  @Test("after a flaky hunt the environment is restored to a commit before the culprit, never to the culprit")
  func restoreBeforeCulprit() throws {
    let bench = try Bench(commits: 100, seed: 93)
    let culprit = try bench.commit(35)
    // The culprit passes its first run; every other answer is right.
    let test =
      "n=$(cat \"$MARKERS/runs-$BISECT_COMMIT\" 2>/dev/null || echo 0); n=$((n + 1)); "
      + "echo \"$n\" > \"$MARKERS/runs-$BISECT_COMMIT\"; "
      + "[ \"$BISECT_COMMIT\" = \(culprit) ] && [ \"$n\" -eq 1 ] && exit 0; " + bench.predicate(culprit: culprit)
    let output = try bench.hunt([
      "--deploy", HuntTests.recordingDeploy, "--test", test, "--flaky", "--false-good", "0.05", "--false-bad", "0.05",
    ])
    #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
    #expect(output.stdout.contains("The first bad commit is \(culprit)"))
    let restored = try #require(bench.marker("restored")).trimmingCharacters(in: .whitespacesAndNewlines)
    let contains = try runProcess(
      "/usr/bin/env", ["git", "merge-base", "--is-ancestor", culprit, restored], in: bench.repo,
      environment: gitEnvironment)
    #expect(contains.status == 1, "restored to \(restored), which contains the culprit")
  }
}
