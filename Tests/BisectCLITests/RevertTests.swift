import Foundation
import TestSupport
import Testing

/// `--confirm-revert` and `revert-branch`: bad with the culprit reverted, made in memory,
/// deployed and tested; git itself as the oracle of what the revert is.
@Suite struct RevertTests {
  typealias Bench = RevertBench

  @Test(
    "reverting the culprit on top of bad passes: B' is git's revert, kept under a ref; HEAD, index and work tree untouched; revert-branch makes a branch of it"
  )
  func revertPasses() throws {
    let bench = try Bench()
    // A dirty work tree and a staged file: the hunt must leave both exactly as they are.
    try "z=edited by hand\n".write(to: bench.repo.appendingPathComponent("c.txt"), atomically: true, encoding: .utf8)
    try "staged\n".write(to: bench.repo.appendingPathComponent("new.txt"), atomically: true, encoding: .utf8)
    try git(["add", "new.txt"], in: bench.repo)
    let before = try bench.snapshot()
    let status = try git(["status", "--porcelain"], in: bench.repo)

    let output = try bench.hunt(bad: "pass", ["--confirm-revert", "--json"])
    #expect(output.status == 0, "\(output.stderr)")
    let result = try Bench.result(output)
    #expect((result["culprit"] as? [String: Any])?["id"] as? String == bench.culprit)
    let revert = try #require(result["revert"] as? [String: Any])
    #expect(revert["result"] as? String == "passes")
    #expect((revert["sentence"] as? String)?.contains("fixes it") == true)
    let commit = try #require(revert["commit"] as? String)
    let reference = try #require(revert["ref"] as? String)
    #expect(reference.hasPrefix("refs/bisect-deploy/revert/"))
    #expect(try bench.rev(reference) == commit)
    // git is the oracle: B' has bad as its only parent and the tree `git revert` makes.
    #expect(try bench.rev("\(commit)^@") == (try bench.rev("pass")))
    #expect(try bench.rev("\(commit)^{tree}") == (try bench.gitRevert(bench.culprit, on: bench.rev("pass"))).tree)
    let message = try git(["log", "-1", "--format=%s%n%an <%ae>", commit], in: bench.repo)
    #expect(
      message.hasPrefix("Revert \"raise the kernel memory limit (#12)\"\nbisect-deploy <bisect-deploy@localhost>"))
    // B' was deployed and tested once, as a step of its own.
    #expect(bench.deploys().filter { $0.phase == "revert" }.map(\.commit) == [commit])
    #expect(try bench.snapshot() == before)
    #expect(try git(["status", "--porcelain"], in: bench.repo) == status)

    let branch = try bisectDeploy(
      ["revert-branch", "--repo", bench.repo.path, "fix-memory-limit"], environment: bench.environment)
    #expect(branch.status == 0, "\(branch.stderr)")
    #expect(branch.stdout.contains("Nothing was pushed"))
    #expect(try bench.rev("refs/heads/fix-memory-limit") == commit)
    #expect(try bench.snapshot() == before)
    let again = try bisectDeploy(
      ["revert-branch", "--repo", bench.repo.path, "fix-memory-limit"], environment: bench.environment)
    #expect(again.status == 64)
    #expect(again.stderr.contains("exists already"))
  }

  @Test(
    "when a later commit breaks it too, the revert still fails and the summary says the culprit is not the whole story")
  func revertStillFails() throws {
    let bench = try Bench()
    let output = try bench.hunt(bad: "still", ["--confirm-revert"])
    #expect(output.status == 0, "\(output.stderr)")
    #expect(output.stdout.contains("The first bad commit is \(bench.culprit)"))
    #expect(output.stdout.contains("is not the whole story"))
    #expect(output.stdout.contains("another change after"))
    let report = bench.directory.url.appendingPathComponent("hunt.md")
    let written = try bisectDeploy(
      ["report", "--repo", bench.repo.path, "-o", report.path], environment: bench.environment)
    #expect(written.status == 0, "\(written.stderr)")
    let markdown = try String(contentsOf: report, encoding: .utf8)
    #expect(markdown.contains("### Revert proof"))
    #expect(markdown.contains("is not the whole story"))
    // The hunt as git bisect log: the revert step (a child of bad) is a comment, so that
    // git bisect replay accepts the log.
    let log = try bisectDeploy(["log", "--repo", bench.repo.path], environment: bench.environment)
    #expect(log.stdout.contains("# revert proof, bad: ["))
    let scratch = bench.directory.url.appendingPathComponent("replay")
    try git(["clone", "-q", bench.repo.path, scratch.path], in: bench.directory.url)
    let file = bench.directory.url.appendingPathComponent("bisect.log")
    try log.stdout.write(to: file, atomically: true, encoding: .utf8)
    let replay = try runProcess(
      "/usr/bin/env", ["git", "bisect", "replay", file.path], in: scratch, environment: gitEnvironment)
    #expect(replay.status == 0, "\(replay.stdout)\(replay.stderr)")
    #expect(replay.stdout.contains("\(bench.culprit) is the first bad commit"))
  }

  @Test(
    "a revert that conflicts names git's conflicted files and deploys nothing; revert-branch says why there is no branch"
  )
  func revertConflicts() throws {
    let bench = try Bench()
    let output = try bench.hunt(bad: "conflict", ["--confirm-revert", "--json"])
    #expect(output.status == 0, "\(output.stderr)")
    let revert = try #require(try Bench.result(output)["revert"] as? [String: Any])
    #expect(revert["result"] as? String == "conflicts")
    let oracle = try bench.gitRevert(bench.culprit, on: bench.rev("conflict"))
    #expect(oracle.tree == nil)
    #expect(revert["files"] as? [String] == oracle.conflicts)
    #expect(oracle.conflicts == ["a.txt"])
    #expect(revert["commit"] == nil)
    #expect(!bench.deploys().contains { $0.phase == "revert" })
    let branch = try bisectDeploy(["revert-branch", "--repo", bench.repo.path, "fix"], environment: bench.environment)
    #expect(branch.status == 64)
    #expect(branch.stderr.contains("conflicted (a.txt)"))
  }

  @Test("a merge culprit is reverted against its first parent, as git revert -m 1")
  func mergeCulprit() throws {
    let bench = try Bench()
    let output = try bench.hunt(bad: "merged", ["--first-parent", "--confirm-revert", "--json"])
    #expect(output.status == 0, "\(output.stderr)")
    let result = try Bench.result(output)
    #expect((result["culprit"] as? [String: Any])?["id"] as? String == bench.merge)
    let revert = try #require(result["revert"] as? [String: Any])
    #expect(revert["result"] as? String == "passes")
    let commit = try #require(revert["commit"] as? String)
    let oracle = try bench.gitRevert(bench.merge, on: bench.rev("merged"), merge: true)
    #expect(try bench.rev("\(commit)^{tree}") == oracle.tree)
    #expect(try git(["log", "-1", "--format=%B", commit], in: bench.repo).contains("reversing\nchanges made to"))
  }

  @Test("a hunt stopped after its revert step resumes and replays it: B' is made again, not deployed again")
  func resumeReplaysRevert() throws {
    let bench = try Bench()
    // The first restore stops the tool twice (its parent), so the hunt stays open for resume.
    let deploy =
      Bench.deploy
      + "; if [ \"$BISECT_PHASE\" = restore ] && [ ! -e \"$MARKERS/stopped\" ]; then touch \"$MARKERS/stopped\"; "
      + "kill -TERM $PPID; sleep 0.5; kill -TERM $PPID; sleep 5; fi"
    let stopped = try bisectDeploy(
      [
        "--repo", bench.repo.path, "--good", "v0", "--bad", "pass", "--deploy", deploy, "--test", Bench.test,
        "--confirm-revert",
      ], environment: bench.environment)
    #expect(stopped.status == 143, "\(stopped.stdout)\(stopped.stderr)")
    let reverts = bench.deploys().filter { $0.phase == "revert" }
    #expect(reverts.count == 1)
    let resumed = try bisectDeploy(["resume", "--repo", bench.repo.path], environment: bench.environment)
    #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
    #expect(resumed.stdout.contains("fixes it"))
    #expect(bench.deploys().filter { $0.phase == "revert" }.count == 1)
    let hunts = try bisectDeploy(["hunts", "--repo", bench.repo.path], environment: bench.environment)
    #expect(hunts.stdout.contains("revert passes \(reverts[0].commit)"))
  }
}
