import Foundation
import TestSupport
import Testing

/// A hunt killed with SIGKILL (the OOM killer, a cancelled CI job) must not leave its deploy
/// running: the next hunt on that environment would deploy beside it (issue 30, item 1).
@Suite struct OrphanDeployTests {
  typealias Bench = HuntTests.Bench

  enum Backend: String, CaseIterable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }
  }

  /// Holds an exclusive `flock` on the environment's lock file for the whole deploy, as a
  /// real deploy tool holds its environment; a deploy that finds it taken records "overlap".
  /// The first deploy hangs (it is the one killed with its hunt).
  static let lockingDeploy = """
    exec 9>>"$MARKERS/environment.lock"
    if ! flock -n 9; then echo "$BISECT_STEP" >> "$MARKERS/overlap"; exit 1; fi
    echo "$BISECT_COMMIT" >> "$MARKERS/deploys"
    if [ ! -e "$MARKERS/first" ]; then echo $$ > "$MARKERS/first"; sleep 60; fi
    true
    """

  @Test(
    "killed with SIGKILL mid-deploy, the hunt's deploy dies with it: the same command again deploys alone and finishes the hunt",
    arguments: Backend.allCases)
  func noDeployOutlivesItsHunt(backend: Backend) throws {
    let bench = try Bench(commits: 40, seed: 67)
    let culprit = try bench.commit(9)
    let state =
      backend == .sqlite ? bench.directory.url.appendingPathComponent("state.sqlite").path : try testPostgresURL()
    var environment = bench.environment
    if backend == .postgres { environment["PGPASSWORD"] = ProcessInfo.processInfo.environment["PGPASSWORD"] }
    let arguments = [
      "--repo", bench.repo.path, "--good", "v0.1", "--bad", "main", "--env", "dev", "--state", state, "--deploy",
      Self.lockingDeploy, "--test", bench.predicate(culprit: culprit), "--quiet",
    ]
    let hunt = try WatchedProcess(
      bisectDeployExecutable.path, arguments, environment: environment, in: bench.directory.url)
    _ = hunt.waitFor(bench.markers.appendingPathComponent("first"), seconds: 60)
    let deployShell = try #require(
      bench.marker("first").flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) },
      "the first deploy never started")
    kill(hunt.pid, SIGKILL)
    _ = hunt.wait()

    // At once, the same command: it continues the hunt, and its deploys never find the
    // environment's lock taken by the killed hunt's deploy.
    let again = try bisectDeploy(arguments, environment: environment)
    #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
    #expect(again.stdout.contains("The first bad commit is \(culprit)"), "\(again.stdout)")
    #expect(bench.marker("overlap") == nil, "a deploy ran while the killed hunt's deploy held the environment")
    // The killed hunt's deploy is gone (a zombie at most, until init reaps it).
    let stat = (try? String(contentsOfFile: "/proc/\(deployShell)/stat", encoding: .utf8)) ?? ""
    let status = stat.split(separator: ")").last?.split(separator: " ").first
    #expect(status == nil || status == "Z", "the killed hunt's deploy \(deployShell) still runs: \(stat)")
  }
}
