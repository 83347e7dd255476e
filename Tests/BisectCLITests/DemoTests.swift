import Foundation
import TestSupport
import Testing

/// The 2017-03-23 incident for real: kernels started through jupyter_client in a PID
/// namespace (or the documented fallback), on the generated infra repo.
@Suite(.serialized) struct DemoTests {
  static let fixture = fixturesDirectory.appendingPathComponent("incident")

  @Test(
    "an installed bisect-deploy demo, run from any folder, names the culprit and shows the 2017 check passing on it")
  func demo() throws {
    // Installed as a user would: the executable and SwiftPM's resource bundle beside it,
    // copied away from the source checkout, run from an unrelated folder.
    let install = try TemporaryDirectory("bisect-deploy-install")
    let elsewhere = try TemporaryDirectory("bisect-deploy-cwd")
    let bundle = bisectDeployExecutable.deletingLastPathComponent()
      .appendingPathComponent("bisect-deploy_DemoFixture.resources")
    let installed = install.url.appendingPathComponent("bin/bisect-deploy")
    try FileManager.default.createDirectory(
      at: installed.deletingLastPathComponent(), withIntermediateDirectories: true)
    try FileManager.default.copyItem(at: bisectDeployExecutable, to: installed)
    try FileManager.default.copyItem(
      at: bundle, to: installed.deletingLastPathComponent().appendingPathComponent(bundle.lastPathComponent))
    let started = Date()
    let output = try runProcess(
      installed.path, ["demo"], in: elsewhere.url, environment: ProcessInfo.processInfo.environment)
    #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
    #expect(output.stdout.contains("The first bad commit is"))
    #expect(output.stdout.contains("Generalization cleanup"))
    #expect(output.stdout.contains("2017 check (status): exit 0"))
    // Ends on the known-good tag, as the postmortem's team did (the demo prints its hash).
    let knownGood = output.stdout.split(separator: "\n").first { $0.contains("known-good ") }
      .flatMap { $0.components(separatedBy: "known-good ").last?.split(separator: ",").first }
    let short = try #require(knownGood.map(String.init))
    #expect(output.stdout.contains("Restored dev to \(short)"), "\(output.stdout)")
    // First use also builds the Python environment; later runs are quicker.
    #expect(Date().timeIntervalSince(started) < 240)
  }

  @Test("an installed binary without its resource bundle says where the fixture should be, and does not crash")
  func demoWithoutBundle() throws {
    let install = try TemporaryDirectory("bisect-deploy-install")
    let installed = install.url.appendingPathComponent("bisect-deploy")
    try FileManager.default.copyItem(at: bisectDeployExecutable, to: installed)
    let output = try runProcess(installed.path, ["demo"], in: install.url)
    #expect(output.status == 64, "\(output.stdout)\(output.stderr)")
    #expect(output.stderr.contains("bisect-deploy_DemoFixture.resources"), "\(output.stderr)")
    #expect(output.stderr.contains("--fixtures"))
  }

  @Test("the 2017 check passes on both endpoints; the kernel test fails on the culprit and passes on its parent")
  func checksOnEndpoints() throws {
    let work = try TemporaryDirectory("bisect-deploy-demo-test")
    // Deploys one commit to the stand-in cluster as the repo's deploy.py does, then runs both checks.
    let script = """
      set -eu
      here="$1"; work="$2"
      export BISECT_DEMO_STATE="$work/state" BISECT_DEMO_CLUSTER="$here/cluster.py"
      export BISECT_DEMO_VENV="$("$here/setup-venv.sh" | tail -n 1)"
      repo="$work/repo"
      python3 "$here/make-incident-repo.py" "$repo" > "$work/repo.json"
      field() { python3 -c "import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$work/repo.json" "$1"; }
      culprit=$(field culprit)
      check() {
        rm -rf "$work/co" && mkdir -p "$work/co"
        git -C "$repo" archive "$2" | tar -x -C "$work/co"
        (cd "$work/co" && BISECT_REPO="$repo" python3 deploy.py dev data8 "$2") > "$work/deploy.log" 2>&1
        set +e
        BISECT_ENVIRONMENT=dev sh "$here/check-status.sh" > /dev/null 2>&1; echo "status $1 $?"
        BISECT_ENVIRONMENT=dev sh "$here/smoke-kernel.sh" > /dev/null 2>&1; echo "kernel $1 $?"
        set -e
      }
      check known-good "$(field known_good)"
      check tip "$(git -C "$repo" rev-parse main)"
      check culprit "$culprit"
      check parent "$(git -C "$repo" rev-parse "$culprit^")"
      python3 "$here/cluster.py" stop-all > /dev/null 2>&1 || true
      """
    let output = try runProcess(
      "/bin/sh", ["-c", script, "check", Self.fixture.path, work.path],
      environment: ProcessInfo.processInfo.environment)
    #expect(output.status == 0, "\(output.stderr)")
    let results = Dictionary(
      uniqueKeysWithValues: lines(output.stdout).map { line -> (String, String) in
        let parts = line.split(separator: " ")
        return ("\(parts[0]) \(parts[1])", String(parts[2]))
      })
    #expect(results["status known-good"] == "0")
    #expect(results["status tip"] == "0", "the 2017 check passes on the broken tip")
    #expect(results["status culprit"] == "0", "the 2017 check passes on the culprit")
    #expect(results["kernel culprit"] == "1", "kernels die on the culprit")
    #expect(results["kernel parent"] == "0", "kernels run on the culprit's parent")
    #expect(results["kernel tip"] == "1")
    #expect(results["kernel known-good"] == "0")
  }
}
