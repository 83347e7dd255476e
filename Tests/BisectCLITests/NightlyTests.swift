import Foundation
import TestSupport
import Testing

/// Nightly runs and incidents reproduced from dates, through the real executable.
@Suite struct NightlyTests {
  @Test("two simulated nights: a good one, then a bad one that hunts, reports, and is not retested")
  func twoNights() throws {
    let directory = try TemporaryDirectory()
    let repo = try makeHistory(HistoryShape(commits: 160, seed: 41, mergeRatio: 0.2), in: directory.url)
    let tip = lines(try git(["rev-parse", "main"], in: repo))[0]
    let lastNight = lines(try git(["rev-parse", "v0.2^{commit}"], in: repo))[0]
    let culprit = lines(try git(["rev-list", "--first-parent", "v0.2..main"], in: repo)).reversed()[6]
    let markers = directory.url.appendingPathComponent("tests")
    var environment = gitEnvironment
    environment["MARKERS"] = markers.path
    let test =
      "echo \"$BISECT_COMMIT\" >> \"$MARKERS\"; "
      + "git -C \"$BISECT_REPO\" merge-base --is-ancestor \(culprit) \"$BISECT_COMMIT\" && exit 1; exit 0"
    let nightly = { () throws -> ProcessOutput in
      try bisectDeploy(["nightly", "--repo", repo.path, "--test", test, "--quiet"], environment: environment)
    }
    func testRuns() -> Int { lines((try? String(contentsOf: markers, encoding: .utf8)) ?? "").count }

    // Night 1: main was at v0.2, good.
    try git(["update-ref", "refs/heads/main", lastNight], in: repo)
    let first = try nightly()
    #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
    #expect(first.stdout.contains("is good"))
    #expect(testRuns() == 1)
    let again = try nightly()
    #expect(again.status == 0)
    #expect(again.stdout.contains("already tested"))
    #expect(testRuns() == 1, "the same tip is not tested twice")

    // Night 2: the branch moved on and broke.
    try git(["update-ref", "refs/heads/main", tip], in: repo)
    let second = try nightly()
    #expect(second.status == 10, "\(second.stdout)\(second.stderr)")
    #expect(second.stdout.contains("The first bad commit is \(culprit)"))
    let report = repo.appendingPathComponent(".git/bisect-deploy/reports/nightly-\(tip.prefix(10)).html")
    #expect(FileManager.default.fileExists(atPath: report.path))
    let tested = testRuns()
    let third = try nightly()
    #expect(third.status == 10)
    #expect(third.stdout.contains("already tested"))
    #expect(testRuns() == tested)
    // The ends were known from their nights: the hunt did not test them again.
    let runs = lines((try? String(contentsOf: markers, encoding: .utf8)) ?? "")
    #expect(runs.filter { $0 == lastNight }.count == 1)
    #expect(runs.filter { $0 == tip }.count == 1)
  }

  @Test("--good-at and --bad-at find the incident's culprit from what people remembered")
  func incidentFromDates() throws {
    let directory = try TemporaryDirectory()
    let repo = directory.url.appendingPathComponent("jupyterhub-k8s")
    let made = try runProcess(
      "/usr/bin/env",
      ["python3", fixturesDirectory.appendingPathComponent("incident/make-incident-repo.py").path, repo.path])
    #expect(made.status == 0, "\(made.stderr)")
    let facts = try #require(try JSONSerialization.jsonObject(with: Data(made.stdout.utf8)) as? [String: Any])
    let culprit = try #require(facts["culprit"] as? String)
    let test = "git -C \"$BISECT_REPO\" merge-base --is-ancestor \(culprit) \"$BISECT_COMMIT\" && exit 1; exit 0"
    let output = try bisectDeploy(
      [
        "--repo", repo.path, "--branch", "main", "--good-at", "2017-03-19", "--bad-at", "2017-03-23 09:00",
        "--test", test, "--quiet",
      ], environment: gitEnvironment)
    #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
    #expect(output.stdout.contains("The first bad commit is \(culprit)"))
    #expect(output.stderr.contains("--good-at 2017-03-19 resolved to"))
    #expect(output.stderr.contains("--bad-at 2017-03-23 09:00 resolved to"))
  }

  @Test("a nightly check is refused while a hunt holds its environment: nothing of it runs there")
  func refusedWhileAHuntHoldsTheEnvironment() throws {
    let directory = try TemporaryDirectory()
    let repo = try makeHistory(HistoryShape(commits: 60, seed: 43, mergeRatio: 0.2), in: directory.url)
    let culprit = lines(try git(["rev-list", "--first-parent", "v0.1..main"], in: repo)).reversed()[5]
    let started = directory.url.appendingPathComponent("started")
    let nightlyRuns = directory.url.appendingPathComponent("nightly-runs")
    var environment = gitEnvironment
    environment["STARTED"] = started.path
    environment["RUNS"] = nightlyRuns.path
    let slow =
      "touch \"$STARTED\"; sleep 0.5; "
      + "git -C \"$BISECT_REPO\" merge-base --is-ancestor \(culprit) \"$BISECT_COMMIT\" && exit 1; exit 0"
    let hunt = Process()
    hunt.executableURL = bisectDeployExecutable
    hunt.arguments = ["--repo", repo.path, "--good", "v0.1", "--bad", "main", "--test", slow, "--quiet"]
    hunt.environment = environment
    hunt.standardOutput = FileHandle.nullDevice
    hunt.standardError = FileHandle.nullDevice
    try hunt.run()
    defer { if hunt.isRunning { kill(hunt.processIdentifier, SIGKILL) } }
    let deadline = Date().addingTimeInterval(30)
    while !FileManager.default.fileExists(atPath: started.path) && Date() < deadline { usleep(20_000) }
    try #require(hunt.isRunning, "the hunt ended before the nightly could start")

    let refused = try bisectDeploy(
      ["nightly", "--repo", repo.path, "--deploy", "echo deploy >> \"$RUNS\"", "--test", "echo test >> \"$RUNS\""],
      environment: environment)
    #expect(refused.status == 75, "\(refused.stdout)\(refused.stderr)")
    #expect(refused.stderr.contains("is leased by hunt"), "\(refused.stderr)")
    #expect(!FileManager.default.fileExists(atPath: nightlyRuns.path), "the nightly deployed or tested")
    hunt.waitUntilExit()
    #expect(hunt.terminationStatus == 0)
  }
}
