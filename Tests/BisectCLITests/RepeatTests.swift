import Foundation
import TestSupport
import Testing

/// `repeat: N` and `--confirm N` through the real executable, with tests that lie on purpose.
@Suite struct RepeatTests {
  typealias Bench = HuntTests.Bench

  /// A test whose first run on each commit says bad whatever the truth (a cold node timing out),
  /// and which is right after that. It counts runs per commit in the markers folder.
  static func firstRunLies(_ bench: Bench, culprit: String) -> String {
    "n=$(cat \"$MARKERS/runs-$BISECT_COMMIT\" 2>/dev/null || echo 0); n=$((n + 1)); "
      + "echo \"$n\" > \"$MARKERS/runs-$BISECT_COMMIT\"; [ \"$n\" -eq 1 ] && exit 1; "
      + bench.predicate(culprit: culprit)
  }

  static func decode(_ output: ProcessOutput) throws -> [[String: Any]] {
    try lines(output.stdout).map { line in
      try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }
  }

  @Test("trusting every answer, a lying first run blames an innocent commit; --confirm says it does not hold")
  func plainIsFooledAndConfirmSaysSo() throws {
    // A line, so that one commit of the range is the oldest: the only one whose parent is good.
    let bench = try Bench(commits: 80, seed: 61, mergeRatio: 0)
    let culprit = try bench.commit(20)
    let oldest = try #require(lines(try git(["rev-list", "--reverse", "v0.1..main"], in: bench.repo)).first)
    let output = try bench.hunt([
      "--test", Self.firstRunLies(bench, culprit: culprit), "--confirm", "3", "--json", "--no-verify",
    ])
    let result = try #require(try Self.decode(output).last)
    let named = (result["culprit"] as? [String: Any])?["id"] as? String
    #expect(named == oldest, "every first run says bad, so plain bisection walks to the oldest commit")
    let confirmation = try #require(result["confirmation"] as? [String: Any])
    #expect(confirmation["holds"] as? Bool == false)
    #expect((confirmation["culprit"] as? [String: Any])?["good"] as? Int == 3, "the wrongly named commit passes")
  }

  @Test("repeat: 3 with the majority rule outvotes the lying run, and --confirm N says the answer holds")
  func majorityOutvotesTheLie() throws {
    let bench = try Bench(commits: 80, seed: 61)
    let culprit = try bench.commit(20)
    let output = try bench.hunt([
      "--test", Self.firstRunLies(bench, culprit: culprit), "--repeat", "3", "--confirm", "4", "--json",
    ])
    #expect(output.status == 0, "\(output.stderr)")
    let objects = try Self.decode(output)
    let result = try #require(objects.last)
    #expect((result["culprit"] as? [String: Any])?["id"] as? String == culprit)
    let confirmation = try #require(result["confirmation"] as? [String: Any])
    #expect(confirmation["holds"] as? Bool == true)
    #expect((confirmation["culprit"] as? [String: Any])?["bad"] as? Int == 4)
    let parents = try #require(confirmation["parents"] as? [[String: Any]])
    #expect(parents.count == 1 && parents[0]["good"] as? Int == 4)
    // Each step stops as soon as a majority is reached: bad commits after two runs, good
    // ones (whose first run lied) after three.
    let verdicts = objects.filter { $0["event"] as? String == "verdict" && $0["purpose"] as? String == "bisect" }
    #expect(!verdicts.isEmpty)
    // The bad commits: the culprit and every commit of the range that contains it.
    let bad = Set([culprit] + lines(try git(["rev-list", "--ancestry-path", "\(culprit)..main"], in: bench.repo)))
    let runs = verdicts.map { $0["runs"] as? [String] ?? [] }
    let expected = verdicts.map {
      bad.contains($0["commit"] as? String ?? "") ? ["bad", "bad"] : ["bad", "good", "good"]
    }
    #expect(runs == expected)
  }

  @Test("repeat_rule any-bad: one failing run makes the step bad, for tests that only sometimes catch it")
  func anyBad() throws {
    let bench = try Bench(commits: 80, seed: 63)
    let culprit = try bench.commit(31)
    // Truly bad commits pass their first run (the test misses the problem once).
    let test =
      "n=$(cat \"$MARKERS/runs-$BISECT_COMMIT\" 2>/dev/null || echo 0); n=$((n + 1)); "
      + "echo \"$n\" > \"$MARKERS/runs-$BISECT_COMMIT\"; [ \"$n\" -eq 1 ] && exit 0; "
      + bench.predicate(culprit: culprit)
    let config = bench.directory.url.appendingPathComponent("any-bad.yml")
    try "repeat: 2\nrepeat_rule: any-bad\n".write(to: config, atomically: true, encoding: .utf8)
    let output = try bench.hunt(["--config", config.path, "--test", test, "--quiet"])
    #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
    #expect(output.stdout.contains("The first bad commit is \(culprit)"))
  }

  @Test("--confirm after a first-parent hunt tests the merge against its first parent only")
  func confirmFirstParent() throws {
    let bench = try Bench(commits: 120, seed: 95)
    let all = lines(try git(["rev-list", "v0.1..main"], in: bench.repo))
    let chain = Set(lines(try git(["rev-list", "--first-parent", "v0.1..main"], in: bench.repo)))
    let culprit = try #require(all.filter { !chain.contains($0) }.dropFirst(5).first)
    let output = try bench.hunt([
      "--test", bench.predicate(culprit: culprit), "--first-parent", "--confirm", "2", "--json",
    ])
    #expect(output.status == 0, "\(output.stderr)")
    let result = try #require(try Self.decode(output).last)
    let confirmation = try #require(result["confirmation"] as? [String: Any])
    #expect(confirmation["holds"] as? Bool == true, "\(confirmation)")
    #expect((confirmation["parents"] as? [[String: Any]])?.count == 1)
  }
}
