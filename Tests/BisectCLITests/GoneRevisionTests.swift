import Foundation
import TestSupport
import Testing

/// A stopped hunt whose revisions changed or vanished since (issue 30, item 2): `resume` and
/// `reset` work from the stored commits, never from the names again.
@Suite struct GoneRevisionTests {
  typealias Bench = HuntTests.Bench

  /// A deploy that interrupts its own hunt (SIGINT to the tool) at step 3, once.
  static let interruptingDeploy =
    "if [ \"$BISECT_STEP\" = 3 ] && [ ! -e \"$MARKERS/interrupted\" ]; then touch \"$MARKERS/interrupted\"; "
    + "kill -INT $PPID; sleep 2; fi; true"

  @Test("after the good tag is deleted, resume continues from the stored commits and names the culprit")
  func deletedTag() throws {
    let bench = try Bench(commits: 40, seed: 83)
    let culprit = try bench.commit(11)
    let first = try bench.hunt(["--deploy", Self.interruptingDeploy, "--test", bench.predicate(culprit: culprit)])
    #expect(first.status == 130, "\(first.stdout)\(first.stderr)")
    try git(["tag", "-d", "v0.1"], in: bench.repo)
    let resumed = try bisectDeploy(["resume", "--repo", bench.repo.path], environment: bench.environment)
    #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
    #expect(resumed.stdout.contains("The first bad commit is \(culprit)"))
  }

  @Test(
    "after bad is force-pushed away and pruned, resume names what is gone and how to end; reset ends it, leaving the environment as it is"
  )
  func prunedBad() throws {
    let bench = try Bench(commits: 40, seed: 89)
    let culprit = try bench.commit(11)
    // A branch of two commits on top of main, the hunt's bad end.
    try git(["checkout", "-q", "-b", "doomed", "main"], in: bench.repo)
    for n in 1...2 {
      try git(["commit", "-q", "--allow-empty", "-m", "doomed \(n)"], in: bench.repo)
    }
    try git(["checkout", "-q", "main"], in: bench.repo)
    let bad = try git(["rev-parse", "doomed"], in: bench.repo).trimmingCharacters(in: .whitespacesAndNewlines)
    let first = try bisectDeploy(
      [
        "--repo", bench.repo.path, "--good", "v0.1", "--bad", "doomed", "--env", "dev", "--deploy",
        Self.interruptingDeploy, "--test", bench.predicate(culprit: culprit),
      ], environment: bench.environment)
    #expect(first.status == 130, "\(first.stdout)\(first.stderr)")
    try git(["branch", "-q", "-D", "doomed"], in: bench.repo)
    try git(["reflog", "expire", "--expire=now", "--all"], in: bench.repo)
    try git(["gc", "-q", "--prune=now"], in: bench.repo)
    #expect(throws: (any Error).self) { try git(["cat-file", "-e", bad], in: bench.repo) }

    let resumed = try bisectDeploy(["resume", "--repo", bench.repo.path], environment: bench.environment)
    #expect(resumed.status == 65, "\(resumed.stdout)\(resumed.stderr)")
    #expect(resumed.stderr.contains("its bad commit \(bad) is no longer in the repository"), "\(resumed.stderr)")
    #expect(resumed.stderr.contains("bisect-deploy reset --hunt "), "\(resumed.stderr)")

    let reset = try bisectDeploy(["reset", "--repo", bench.repo.path], environment: bench.environment)
    #expect(reset.status == 0, "\(reset.stdout)\(reset.stderr)")
    #expect(reset.stdout.contains("Not restored: its bad commit \(bad) is no longer in the repository"))
    // The environment is free again: a new hunt there starts and ends.
    let next = try bisectDeploy(
      [
        "--repo", bench.repo.path, "--good", "v0.1", "--bad", "main", "--env", "dev", "--test",
        bench.predicate(culprit: culprit),
      ], environment: bench.environment)
    #expect(next.status == 0, "\(next.stdout)\(next.stderr)")
    #expect(next.stdout.contains("The first bad commit is \(culprit)"))
  }
}
