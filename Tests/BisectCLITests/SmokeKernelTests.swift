import Foundation
import TestSupport
import Testing

/// A real JupyterHub on 127.0.0.1 (Fixtures/jupyterhub), one for the whole suite: started
/// before its first test and stopped after its last by the `.localHub` trait. A watchdog
/// stops it too if the test process dies.
struct LocalHub: Sendable {
  let directory: TemporaryDirectory
  let url: String
  let token: String
  let jupyterPath: String
  let log: String
  let venv: String

  @TaskLocal static var current: LocalHub?

  static let fixture = fixturesDirectory.appendingPathComponent("jupyterhub")

  /// Prepares the venv (cached in ~/.cache/bisect-deploy/hub-venv) and starts the hub.
  /// Throws, failing the suite, when PyPI cannot be reached and nothing is cached, or when
  /// the hub does not come up.
  static func start() throws -> LocalHub {
    let environment = ProcessInfo.processInfo.environment
    let setup = try runProcess(
      "/bin/sh", [fixture.appendingPathComponent("setup-venv.sh").path], environment: environment)
    guard setup.status == 0, let venv = lines(setup.stdout).last else {
      throw FixtureError(
        description: """
          Cannot prepare the JupyterHub venv for the kernel smoke tests (Fixtures/jupyterhub/setup-venv.sh exited \
          \(setup.status)); these tests need PyPI once, then the cache in ~/.cache/bisect-deploy/hub-venv:
          \(setup.stderr)
          """)
    }
    let directory = try TemporaryDirectory("bisect-deploy-hub")
    let state = directory.url.appendingPathComponent("hub")
    let started = try runProcess(
      "/usr/bin/env",
      [
        "python3", fixture.appendingPathComponent("hub.py").path, "start", state.path, "--venv", venv,
        "--watch", String(getpid()), "--slow-spawn", "30",
      ], environment: environment)
    struct Started: Decodable {
      var url: String
      var tokenFile: String
      var jupyterPath: String
      var log: String

      enum CodingKeys: String, CodingKey {
        case url, log
        case tokenFile = "token_file"
        case jupyterPath = "jupyter_path"
      }
    }
    guard started.status == 0, let line = lines(started.stdout).last,
      let info = try? JSONDecoder().decode(Started.self, from: Data(line.utf8))
    else {
      throw FixtureError(description: "The local JupyterHub did not start:\n\(started.stderr)\(started.stdout)")
    }
    let token = try String(contentsOfFile: info.tokenFile, encoding: .utf8).trimmingCharacters(
      in: .whitespacesAndNewlines)
    return LocalHub(
      directory: directory, url: info.url, token: token, jupyterPath: info.jupyterPath, log: info.log, venv: venv)
  }

  func stop() {
    _ = try? runProcess(
      "/usr/bin/env",
      [
        "python3", Self.fixture.appendingPathComponent("hub.py").path, "stop",
        directory.url.appendingPathComponent("hub").path,
      ])
  }

  /// The environment of a smoke test run: the token in JUPYTERHUB_API_TOKEN.
  var environment: [String: String] {
    var environment = gitEnvironment
    environment["JUPYTERHUB_API_TOKEN"] = token
    return environment
  }

  /// `bisect-deploy smoke kernel --hub URL ARGUMENTS...`, with the token in the environment.
  func smoke(_ arguments: [String], environment: [String: String]? = nil) throws -> ProcessOutput {
    let output = try bisectDeploy(
      ["smoke", "kernel", "--hub", url] + arguments, environment: environment ?? self.environment)
    // Whatever happened, the token was never printed.
    #expect(!output.stdout.contains(token) && !output.stderr.contains(token), "the token was printed")
    return output
  }

  /// Runs `smoke` expecting a bad verdict (exit 1); returns its two lines, the verdict and
  /// the timings.
  func bad(_ arguments: [String]) throws -> (verdict: String, timings: String) {
    let output = try smoke(arguments)
    #expect(output.status == 1, "\(output.stdout)\(output.stderr)")
    let printed = lines(output.stdout)
    #expect(printed.count == 2, "\(output.stdout)")
    let verdict = try #require(printed.first, "\(output.stderr)")
    #expect(verdict.hasPrefix("bad: "), "\(verdict)")
    return (verdict, printed.last ?? "")
  }

  /// The user model, from the hub's REST API.
  func userModel(_ name: String) throws -> [String: Any] {
    let output = try runProcess(
      "/usr/bin/env",
      [
        "python3", "-c",
        """
        import sys, urllib.request
        request = urllib.request.Request(sys.argv[1], headers={"Authorization": "token " + sys.argv[2]})
        print(urllib.request.urlopen(request, timeout=10).read().decode())
        """,
        "\(url)/hub/api/users/\(name)", token,
      ])
    return (try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any]) ?? [:]
  }

  /// Waits (at most `seconds`) until the user has no server, running or pending.
  func waitUntilStopped(_ name: String, seconds: Double = 60) throws -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      let model = try userModel(name)
      if model["server"] is NSNull && model["pending"] is NSNull { return true }
      usleep(250_000)
    }
    return false
  }
}

/// Starts one `LocalHub` around the suite it is attached to.
struct LocalHubTrait: SuiteTrait, TestScoping {
  var isRecursive: Bool { false }

  func provideScope(
    for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
  ) async throws {
    let hub = try LocalHub.start()
    defer { hub.stop() }
    try await LocalHub.$current.withValue(hub) { try await function() }
  }
}

extension Trait where Self == LocalHubTrait {
  /// A real JupyterHub for the suite: `LocalHub.current` in its tests.
  static var localHub: Self { Self() }
}

/// `bisect-deploy smoke kernel` against a real JupyterHub started for these tests, and as
/// the test of a real hunt. docs/smoke.md says what each verdict means.
@Suite(.serialized, .localHub)
struct SmokeKernelTests {
  var hub: LocalHub { get throws { try #require(LocalHub.current) } }

  /// The one line of timings: "hub 6.1.1 up 0.02 s; server 3.1 s; kernel 0.8 s; 1+1 -> 2 in 0.05 s; ..."
  static func timings(_ stdout: String) -> String? {
    lines(stdout).first { $0.hasPrefix("hub ") }
  }

  @Test("a working hub: good, exit 0, with the result and one line of timings per phase")
  func workingHub() throws {
    let hub = try hub
    let output = try hub.smoke(["--user", "smoke"])
    #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
    #expect(lines(output.stdout).first == "good: 1+1 -> 2", "\(output.stdout)")
    let timings = try #require(Self.timings(output.stdout), "\(output.stdout)")
    #expect(timings.contains("hub 6.1.1 up "), "\(timings)")
    #expect(timings.contains("; server "), "\(timings)")
    #expect(timings.contains("; kernel "), "\(timings)")
    #expect(timings.contains("; 1+1 -> 2 in "), "\(timings)")
    // The server was stopped at the end.
    #expect(try hub.waitUntilStopped("smoke", seconds: 5))
  }

  @Test("--json, other code and --keep-server: one JSON object with verdict, reason and timings; the server stays up")
  func jsonAndKeepServer() throws {
    let hub = try hub
    let output = try hub.smoke([
      "--user", "smoke", "--code", "print(6*7)", "--expect", "42", "--keep-server", "--json",
    ])
    #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any], "\(output.stdout)")
    #expect(object["verdict"] as? String == "good")
    #expect(object["exitCode"] as? Int == 0)
    #expect(object["result"] as? String == "42")
    #expect(object["hubVersion"] as? String == "6.1.1")
    let seconds = try #require(object["seconds"] as? [String: Double])
    #expect(Set(seconds.keys) == ["hub", "server", "kernel", "execute", "cleanup"], "\(seconds)")
    #expect(try hub.userModel("smoke")["server"] as? String == "/user/smoke/", "--keep-server left it running")

    // The next run finds it running: it stops it (it may run an older deploy) and starts a new one.
    let again = try hub.smoke(["--user", "smoke"])
    #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
    #expect(again.stderr.contains("smoke's server is running: stopping it"), "\(again.stderr)")
  }

  @Test("a kernel that exits at start, as in 2017: bad, exit 1, 'kernel died', while the server stays healthy")
  func kernelDiesAtStart() throws {
    let hub = try hub
    let (verdict, timings) = try hub.bad(["--user", "smoke", "--kernel", "python3-exits"])
    #expect(verdict.hasPrefix("bad: the kernel died"), "\(verdict)")
    #expect(timings.contains("kernel failed after"), "\(timings)")
  }

  @Test("a kernel that exits at start, with a kernel timeout shorter than the server's restarts: bad, exit 1")
  func kernelDiesAtStartShortTimeout() throws {
    let hub = try hub
    let (verdict, _) = try hub.bad(["--user", "smoke", "--kernel", "python3-exits", "--kernel-timeout", "4"])
    #expect(verdict.contains("did not answer kernel_info within 4 s"), "\(verdict)")
    #expect(verdict.contains("'starting'"), "\(verdict)")
  }

  @Test("a spawner that fails: bad, exit 1, with the hub's reason")
  func spawnerFails() throws {
    let hub = try hub
    let (verdict, timings) = try hub.bad(["--user", "broken"])
    #expect(verdict.hasPrefix("bad: broken's server failed to start"), "\(verdict)")
    #expect(verdict.contains("No such file or directory"), "\(verdict)")
    #expect(timings.contains("; server failed after "), "\(timings)")
  }

  @Test("a spawn slower than --spawn-timeout: bad, exit 1, and the pending spawn is stopped")
  func spawnTooSlow() throws {
    let hub = try hub
    let started = Date()
    let (verdict, timings) = try hub.bad(["--user", "slow", "--spawn-timeout", "3"])
    #expect(verdict.hasPrefix("bad: slow's server did not start within 3 s (--spawn-timeout)"), "\(verdict)")
    #expect(timings.contains("; server failed after 3."), "\(timings)")
    #expect(Date().timeIntervalSince(started) < 25, "the slow spawn was not waited for")
    #expect(try hub.waitUntilStopped("slow"), "the pending spawn was stopped")
  }

  @Test("the hub down: bad, exit 1, quickly")
  func hubDown() throws {
    let hub = try hub
    let port = try freePort()
    let started = Date()
    let output = try bisectDeploy(
      ["smoke", "kernel", "--hub", "http://127.0.0.1:\(port)/", "--user", "smoke"], environment: hub.environment)
    #expect(output.status == 1, "\(output.stdout)\(output.stderr)")
    let verdict = try #require(lines(output.stdout).first)
    #expect(verdict.hasPrefix("bad: the hub is down: http://127.0.0.1:\(port)/hub/api/ gave no answer"), "\(verdict)")
    #expect(Date().timeIntervalSince(started) < 5, "a refused connection is not retried")
    #expect(verdict.contains("connection refused"), "\(verdict)")
    #expect(Self.timings(output.stdout)?.hasPrefix("hub down after ") == true, "\(output.stdout)")
  }

  @Test("--expect 3: bad, exit 1, showing what came back")
  func wrongResult() throws {
    let hub = try hub
    let (verdict, timings) = try hub.bad(["--user", "smoke", "--expect", "3"])
    #expect(verdict == "bad: 1+1 gave '2', expected '3'")
    #expect(timings.contains("; 1+1 -> 2 in "), "\(timings)")
  }

  @Test("an error in the output: bad, exit 1, with the exception")
  func errorInOutput() throws {
    let hub = try hub
    let (verdict, _) = try hub.bad(["--user", "smoke", "--code", "1/0"])
    #expect(verdict == "bad: 1/0 raised ZeroDivisionError: division by zero")
  }

  @Test(
    "a misconfigured test aborts the hunt (exit 200), never bad or skip: no token, malformed URL, refused token, bad flags",
    arguments: [
      (["--user", "smoke"], "no-token", "No token: the environment variable JUPYTERHUB_API_TOKEN is unset or empty"),
      (["--user", "smoke", "--token-env", "MY_HUB_TOKEN"], "no-token", "the environment variable MY_HUB_TOKEN"),
      (["--user", "smoke"], "wrong-token", "The hub refused the token in JUPYTERHUB_API_TOKEN (HTTP 403"),
      ([], "token", "belongs to the service 'bisect-smoke'"),
      (["--user", "smoke", "--spawn-timeout", "soon"], "token", "--spawn-timeout 'soon'"),
      (["--user", "smoke", "--no-such-flag"], "token", "Unknown option '--no-such-flag'"),
    ])
  func misconfigured(arguments: [String], token: String, message: String) throws {
    let hub = try hub
    var environment = hub.environment
    switch token {
    case "no-token": environment["JUPYTERHUB_API_TOKEN"] = nil
    case "wrong-token": environment["JUPYTERHUB_API_TOKEN"] = "not-the-token"
    default: break
    }
    let output = try hub.smoke(arguments, environment: environment)
    #expect(output.status == 200, "\(output.stdout)\(output.stderr)")
    #expect(output.stderr.contains(message), "\(output.stderr)")
    #expect(!output.stdout.hasPrefix("bad"), "\(output.stdout)")
    #expect(!output.stderr.contains("not-the-token"))
  }

  @Test(
    "malformed --hub URLs abort (exit 200) before any request, without echoing a secret put in the URL",
    arguments: [
      ("ftp://127.0.0.1/", "the scheme must be http or https"),
      ("127.0.0.1:8000", "it is not a URL"),
      ("http://user:s3cret-in-url@127.0.0.1/", "holds a user name or password"),
      ("http://127.0.0.1/?token=s3cret-in-url", "has a query or fragment"),
      ("http:///hub", "names no host"),
    ])
  func malformedHub(url: String, message: String) throws {
    let hub = try hub
    let output = try bisectDeploy(["smoke", "kernel", "--hub", url], environment: hub.environment)
    #expect(output.status == 200, "\(output.stdout)\(output.stderr)")
    #expect(output.stderr.contains(message), "\(output.stderr)")
    #expect(!output.stderr.contains("s3cret-in-url"), "\(output.stderr)")
  }

  @Test("the Job's command line in docs/kubernetes.md, pointed at the local hub, is good (its user is created)")
  func kubernetesJobCommand() throws {
    let hub = try hub
    let page = try String(
      contentsOf: fixturesDirectory.deletingLastPathComponent().appendingPathComponent("docs/kubernetes.md"),
      encoding: .utf8)
    let line = try #require(
      lines(page).first { $0.contains("command: [\"bisect-deploy\", \"smoke\", \"kernel\"") },
      "the smoke-test Job's command line")
    let list = try #require(line.range(of: "command:").map { String(line[$0.upperBound...]) })
    let command = try #require(try JSONSerialization.jsonObject(with: Data(list.utf8)) as? [String])
    let hubIndex = try #require(command.firstIndex(of: "--hub"))
    var arguments = Array(command.dropFirst())
    arguments[hubIndex] = hub.url
    let output = try bisectDeploy(arguments, environment: hub.environment)
    #expect(output.status == 0, "\(command): \(output.stdout)\(output.stderr)")
    #expect(lines(output.stdout).first == "good: 1+1 -> 2", "\(output.stdout)")
    #expect(!output.stdout.contains(hub.token) && !output.stderr.contains(hub.token))
  }

  @Test("a hunt whose deploy switches the hub's kernelspec between working and dying names the culprit")
  func huntFindsTheKernelCulprit() throws {
    let hub = try hub
    let directory = try TemporaryDirectory()
    let repo = try makeHistory(HistoryShape(commits: 14, seed: 7, mergeRatio: 0), in: directory.url)
    let commits = lines(try git(["rev-list", "v0.1..main"], in: repo))
    let culprit = commits[commits.count / 2]
    // The deploy writes the kernelspec `hunted`: ipykernel before the culprit, the kernel that
    // exits at start from the culprit on.
    let deploy = """
      spec="$HUB_JUPYTER/kernels/hunted"; mkdir -p "$spec"
      if git -C "$BISECT_REPO" merge-base --is-ancestor "$CULPRIT" "$BISECT_COMMIT"; then
        kernel="\\"$EXITS_AT_START\\""; echo "deployed $BISECT_SHORT: a kernel that exits at start"
      else
        kernel='"-m", "ipykernel_launcher"'; echo "deployed $BISECT_SHORT: ipykernel"
      fi
      printf '{"argv": ["%s", %s, "-f", "{connection_file}"], "display_name": "hunted", "language": "python"}\\n' \\
        "$HUB_VENV/bin/python" "$kernel" > "$spec/kernel.json"
      """
    let test = "\"$BISECT_DEPLOY\" smoke kernel --hub \"$HUB_URL\" --user smoke --kernel hunted --kernel-timeout 8"
    var environment = hub.environment
    environment["HUB_JUPYTER"] = hub.jupyterPath
    environment["HUB_VENV"] = hub.venv
    environment["HUB_URL"] = hub.url
    environment["CULPRIT"] = culprit
    environment["EXITS_AT_START"] = LocalHub.fixture.appendingPathComponent("exits-at-start.py").path
    environment["BISECT_DEPLOY"] = bisectDeployExecutable.path
    let output = try bisectDeploy(
      [
        "--repo", repo.path, "--good", "v0.1", "--bad", "main", "--deploy", deploy, "--test", test,
        "--test-timeout", "180", "--restore", "none",
      ], environment: environment)
    #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
    #expect(output.stdout.contains("The first bad commit is \(culprit)"), "\(output.stdout)")
    // The step logs hold the smoke test's output, and never the token.
    let logs = repo.appendingPathComponent(".git/bisect-deploy/logs")
    let everything = try FileManager.default.subpathsOfDirectory(atPath: logs.path).compactMap {
      try? String(contentsOf: logs.appendingPathComponent($0), encoding: .utf8)
    }.joined()
    #expect(everything.contains("bad: the kernel did not answer kernel_info within 8 s"), "\(everything)")
    #expect(everything.contains("good: 1+1 -> 2"))
    #expect(!everything.contains(hub.token), "the token is in a step log")
  }

  /// A loopback port nothing listens on (bound, then released).
  func freePort() throws -> Int {
    let output = try runProcess(
      "/usr/bin/env",
      ["python3", "-c", "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"])
    return try #require(Int(output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
  }
}
