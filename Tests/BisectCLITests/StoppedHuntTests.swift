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
