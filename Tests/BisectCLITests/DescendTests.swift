import Foundation
import TestSupport
import Testing

/// `--descend`: the merge first along the first-parent line, then the commit inside it.
@Suite struct DescendTests {
  typealias Bench = HuntTests.Bench

  /// Commits of the range on main's first-parent line, and those only reachable through merges.
  static func lines(of bench: Bench) throws -> (firstParent: [String], inner: [String]) {
    let all = TestSupport.lines(try git(["rev-list", "v0.1..main"], in: bench.repo))
    let chain = TestSupport.lines(try git(["rev-list", "--first-parent", "v0.1..main"], in: bench.repo))
    let onChain = Set(chain)
    return (chain, all.filter { !onChain.contains($0) })
  }

  /// The merge on main's first-parent line that brought `commit` in, as git tells it: the
  /// oldest first-parent commit that contains it.
  static func merge(bringing commit: String, in bench: Bench) throws -> String {
    let chain = TestSupport.lines(try git(["rev-list", "--first-parent", "--reverse", "v0.1..main"], in: bench.repo))
    for candidate in chain {
      let check = try runProcess(
        "/usr/bin/env", ["git", "merge-base", "--is-ancestor", commit, candidate], in: bench.repo,
        environment: gitEnvironment)
      if check.status == 0 { return candidate }
    }
    throw FixtureError(description: "no first-parent commit contains \(commit)")
  }

  static func decode(_ output: ProcessOutput) throws -> [[String: Any]] {
    try TestSupport.lines(output.stdout).map { line in
      try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }
  }

  @Test("finds the merge along the first-parent line, then the commit inside it, and names both")
  func mergeThenCommit() throws {
    let bench = try Bench(commits: 160, seed: 53)
    let (chain, inner) = try Self.lines(of: bench)
    for culprit in [inner[inner.count / 3], inner[inner.count / 2]] {
      let merge = try Self.merge(bringing: culprit, in: bench)
      let output = try bench.hunt(["--descend", "--test", bench.predicate(culprit: culprit), "--json"])
      #expect(output.status == 0, "\(output.stderr)")
      let objects = try Self.decode(output)
      let result = try #require(objects.last)
      #expect((result["culprit"] as? [String: Any])?["id"] as? String == culprit)
      let descent = try #require(result["descent"] as? [String: Any])
      #expect((descent["merge"] as? [String: Any])?["id"] as? String == merge)
      #expect(descent["commit"] as? String == culprit)
      #expect((result["merge"] as? [String: Any])?["id"] as? String == merge)
      // The first stage deploys only first-parent commits; the second only the merge's own.
      let verdicts = objects.filter { $0["event"] as? String == "verdict" }
      let firstStage = verdicts.filter { $0["purpose"] as? String == "bisect" }.compactMap { $0["commit"] as? String }
      #expect(firstStage.allSatisfy { Set(chain).contains($0) })
      let merged = Set(TestSupport.lines(try git(["rev-list", "\(merge)^1..\(merge)^2"], in: bench.repo)))
      let secondStage = verdicts.filter { $0["purpose"] as? String == "descend" }.compactMap {
        $0["commit"] as? String
      }
      #expect(!secondStage.isEmpty)
      #expect(secondStage.allSatisfy { merged.contains($0) }, "\(secondStage) outside \(merge)")
    }
  }

  @Test("when the merge's own commits cannot be deployed, the merge is the answer and the summary says why")
  func undeployableInside() throws {
    let bench = try Bench(commits: 160, seed: 55)
    let (chain, inner) = try Self.lines(of: bench)
    let culprit = inner[inner.count / 2]
    let merge = try Self.merge(bringing: culprit, in: bench)
    let deployable = bench.directory.url.appendingPathComponent("first-parent.txt")
    try (chain + TestSupport.lines(try git(["rev-parse", "v0.1^{commit}"], in: bench.repo))).joined(separator: "\n")
      .write(to: deployable, atomically: true, encoding: .utf8)
    // Only first-parent commits deploy (as when branch commits were never deployable alone).
    let deploy = "grep -qx \"$BISECT_COMMIT\" \"\(deployable.path)\""
    let output = try bench.hunt(["--descend", "--deploy", deploy, "--test", bench.predicate(culprit: culprit)])
    #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
    #expect(output.stdout.contains("The first bad commit is \(merge)"))
    #expect(output.stdout.contains("the merge is the answer"))
    #expect(output.stdout.contains("could not all be deployed"))
  }

  @Test("a culprit on the first-parent line itself is named directly, with no second stage")
  func culpritOnMainLine() throws {
    let bench = try Bench(commits: 120, seed: 57)
    let (chain, _) = try Self.lines(of: bench)
    let nonMerges = try chain.filter { commit in
      TestSupport.lines(try git(["rev-list", "--parents", "-n", "1", commit], in: bench.repo))[0]
        .split(separator: " ").count == 2
    }
    let culprit = try #require(nonMerges.dropFirst(2).first)
    let output = try bench.hunt(["--descend", "--test", bench.predicate(culprit: culprit), "--json"])
    #expect(output.status == 0, "\(output.stderr)")
    let objects = try Self.decode(output)
    let result = try #require(objects.last)
    #expect((result["culprit"] as? [String: Any])?["id"] as? String == culprit)
    #expect(result["descent"] == nil)
    #expect(!objects.contains { $0["purpose"] as? String == "descend" })
  }
}
