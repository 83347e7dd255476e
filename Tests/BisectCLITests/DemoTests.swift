import Foundation
import TestSupport
import Testing

/// The 2017-03-23 incident for real: kernels started through jupyter_client in a PID
/// namespace (or the documented fallback), on the generated infra repo.
@Suite(.serialized) struct DemoTests {
  static let fixture = fixturesDirectory.appendingPathComponent("incident")

  @Test("bisect-deploy demo names the planted culprit and shows the 2017 check passing on it")
  func demo() throws {
    let started = Date()
    let output = try bisectDeploy(["demo"], environment: ProcessInfo.processInfo.environment)
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
