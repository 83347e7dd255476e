import Foundation
import TestSupport
import Testing

/// Stopped and killed hunts seen from a shared state (issue 30, item 7).
@Suite struct StoppedHuntTests {
  typealias Bench = HuntTests.Bench

  @Test("a bare resume in a shared state continues only this repository's hunt, never another repository's")
  func resumeOnlyThisRepository() throws {
    let first = try Bench(commits: 30, seed: 131)
    let second = try Bench(commits: 30, seed: 137)
    let state = first.directory.url.appendingPathComponent("shared.sqlite").path
    let culprit = try first.commit(7)
    let stopped = try bisectDeploy(
      [
        "--repo", first.repo.path, "--good", "v0.1", "--bad", "main", "--state", state, "--deploy",
        GoneRevisionTests.interruptingDeploy, "--test", first.predicate(culprit: culprit),
      ], environment: first.environment)
    #expect(stopped.status == 130, "\(stopped.stdout)\(stopped.stderr)")
    let deploysBefore = first.marker("deploys")

    let elsewhere = try bisectDeploy(
      ["resume", "--repo", second.repo.path, "--state", state], environment: second.environment)
    #expect(elsewhere.status == 64, "\(elsewhere.stdout)\(elsewhere.stderr)")
    #expect(elsewhere.stderr.contains("No unfinished hunt of this repository"), "\(elsewhere.stderr)")
    #expect(elsewhere.stderr.contains("--hunt "), "\(elsewhere.stderr)")
    #expect(first.marker("deploys") == deploysBefore, "another repository's hunt deployed something")

    let here = try bisectDeploy(
      ["resume", "--repo", first.repo.path, "--state", state], environment: first.environment)
    #expect(here.status == 0, "\(here.stdout)\(here.stderr)")
    #expect(here.stdout.contains("The first bad commit is \(culprit)"))
  }

  @Test("status calls the lease of a hunt killed with SIGKILL held by a process that is gone, not running")
  func statusOfAKilledHunt() throws {
    let bench = try Bench(commits: 30, seed: 139)
    let process = try bench.startHunt(deploy: "touch \"$MARKERS/deploying\"; sleep 60")
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    let status = try bisectDeploy(["status", "--repo", bench.repo.path], environment: bench.environment)
    #expect(status.status == 0, "\(status.stdout)\(status.stderr)")
    #expect(status.stdout.contains("held by a process that is gone"), "\(status.stdout)")
    #expect(!status.stdout.contains("held (running)"), "\(status.stdout)")
  }
}

extension StoppedHuntTests {
  @Test(
    "the same command after kill -9 of a pool hunt continues that hunt: its verdicts are kept, nothing stays unfinished"
  )
  func sameCommandContinuesAKilledPoolHunt() throws {
    let bench = try Bench(commits: 30, seed: 149)
    let culprit = try bench.commit(6)
    let state = bench.directory.url.appendingPathComponent("pool.sqlite").path
    // The third deploy hangs, once: the hunt is killed there.
    let deploy =
      "echo \"$BISECT_COMMIT\" >> \"$MARKERS/deploys\"; "
      + "if [ \"$BISECT_STEP\" = 3 ] && [ ! -e \"$MARKERS/hung\" ]; then touch \"$MARKERS/hung\"; sleep 60; fi; true"
    let arguments = [
      "--repo", bench.repo.path, "--good", "v0.1", "--bad", "main", "--env-pool", "pool-a,pool-b", "--state", state,
      "--deploy", deploy, "--test", bench.predicate(culprit: culprit), "--quiet",
    ]
    let hunt = try WatchedProcess(
      bisectDeployExecutable.path, arguments, environment: bench.environment, in: bench.directory.url)
    _ = hunt.waitFor(bench.markers.appendingPathComponent("hung"), seconds: 60)
    try #require(bench.marker("hung") != nil, "the third deploy never started")
    kill(hunt.pid, SIGKILL)
    _ = hunt.wait()

    let again = try bisectDeploy(arguments, environment: bench.environment)
    #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
    #expect(again.stdout.contains("The first bad commit is \(culprit)"))
    #expect(again.stdout.contains("Resumed: 2 verdicts"), "\(again.stdout)")
    let listed = try bisectDeploy(
      ["hunts", "--repo", bench.repo.path, "--state", state], environment: bench.environment)
    #expect(lines(listed.stdout).filter { $0.hasPrefix("#") }.count == 1, "\(listed.stdout)")
  }
}

extension StoppedHuntTests {
  @Test(
    "resume --hunt N --repo CLONE continues a hunt from another clone when the folder it was started in is not there")
  func resumeFromAnotherClone() throws {
    let bench = try Bench(commits: 30, seed: 151)
    let culprit = try bench.commit(8)
    let state = bench.directory.url.appendingPathComponent("shared.sqlite").path
    let stopped = try bisectDeploy(
      [
        "--repo", bench.repo.path, "--good", "v0.1", "--bad", "main", "--state", state, "--deploy",
        GoneRevisionTests.interruptingDeploy, "--test", bench.predicate(culprit: culprit),
      ], in: bench.repo, environment: bench.environment)
    #expect(stopped.status == 130, "\(stopped.stdout)\(stopped.stderr)")
    // Another host's clone, elsewhere; the first clone's folder is gone from "here".
    let other = bench.directory.url.appendingPathComponent("other-host-clone")
    try git(["clone", "-q", bench.repo.path, other.path], in: bench.directory.url)
    let moved = bench.directory.url.appendingPathComponent("moved-away")
    try FileManager.default.moveItem(at: bench.repo, to: moved)
    let resumed = try bisectDeploy(
      ["resume", "--hunt", "1", "--repo", other.path, "--state", state], in: bench.directory.url,
      environment: bench.environment)
    #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
    #expect(resumed.stdout.contains("The first bad commit is \(culprit)"), "\(resumed.stdout)")
  }
}
