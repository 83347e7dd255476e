import Foundation
import TestSupport
import Testing

/// A webhook receiver on 127.0.0.1 (Fixtures/notify-server.py) that records each request;
/// stopped when the value goes, so a failing test leaves nothing running.
final class WebhookServer {
  let process = Process()
  let record: URL
  let port: Int

  /// Starts the server in `mode` (ok, flaky, silent, notfound) and waits for its port.
  init(mode: String, in directory: URL) throws {
    record = directory.appendingPathComponent("requests-\(mode)-\(UUID().uuidString).jsonl")
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
      "python3", fixturesDirectory.appendingPathComponent("notify-server.py").path, record.path, mode,
      "--lifetime", "90",
    ]
    port = try startPrintingPort(process, name: "notify-server.py")
  }

  deinit {
    // SIGKILL: a child of the test runner may inherit a signal mask that blocks SIGTERM.
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
  }

  func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

  /// Every request received so far, in order.
  func requests() throws -> [[String: Any]] {
    let text = (try? String(contentsOf: record, encoding: .utf8)) ?? ""
    return try lines(text).map { line in
      try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }
  }

  func requests(at path: String) throws -> [[String: Any]] {
    try requests().filter { $0["path"] as? String == path }
  }

  static func body(_ request: [String: Any]) throws -> [String: Any] {
    let text = try #require(request["body"] as? String)
    return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
  }
}

/// `notify:`: webhooks in each format and commands, against a real HTTP server on loopback.
@Suite struct NotifyTests {
  typealias Bench = RevertBench

  /// Writes the configuration file and returns its path.
  static func configuration(_ text: String, in bench: Bench) throws -> String {
    let path = bench.directory.url.appendingPathComponent("bisect-deploy-\(UUID().uuidString).yml")
    try text.write(to: path, atomically: true, encoding: .utf8)
    return path.path
  }

  /// Everything the tool printed or logged, to check that a webhook's URL appears nowhere.
  static func everythingShown(_ output: ProcessOutput, bench: Bench) -> String {
    var text = output.stdout + output.stderr
    let logs = bench.repo.appendingPathComponent(".git/bisect-deploy/logs")
    let enumerator = FileManager.default.enumerator(at: logs, includingPropertiesForKeys: nil)
    while let url = enumerator?.nextObject() as? URL {
      if let content = try? String(contentsOf: url, encoding: .utf8) { text += content }
    }
    return text
  }

  @Test(
    "each format carries what a person needs: Slack text and blocks, a Teams card, the --json result itself, and a command gets it on stdin; the URL is never printed"
  )
  func formats() throws {
    let bench = try Bench()
    let server = try WebhookServer(mode: "ok", in: bench.directory.url)
    let secretPath = "/services/T000/B000/SECRETTOKEN"
    let received = bench.directory.url.appendingPathComponent("received.json")
    let commandEnvironment = bench.directory.url.appendingPathComponent("command-environment.txt")
    let report = bench.directory.url.appendingPathComponent("hunt.html")
    let config = try Self.configuration(
      """
      notify:
        - webhook: {url_env: SLACK_HOOK}
          format: slack
        - webhook: \(server.url("/teams"))
          format: teams
          on: [culprit, aborted]
        - webhook: \(server.url("/json"))
          format: json
        - command: cat > "\(received.path)" && env > "\(commandEnvironment.path)"
        - webhook: \(server.url("/never"))
          on: no-regression
      """, in: bench)
    let output = try bench.hunt(
      bad: "pass", ["--config", config, "--confirm-revert", "--json", "--report", report.path],
      environment: ["SLACK_HOOK": server.url(secretPath)])
    #expect(output.status == 0, "\(output.stderr)")
    let result = try Bench.result(output)
    let notifications = try #require(result["notifications"] as? [[String: Any]])
    #expect(notifications.count == 4)
    #expect(notifications.allSatisfy { $0["delivered"] as? Bool == true }, "\(notifications)")
    #expect(try server.requests(at: "/never").isEmpty)

    let short = String(bench.culprit.prefix(7))
    let slack = try WebhookServer.body(try #require(try server.requests(at: secretPath).first))
    let text = try #require(slack["text"] as? String)
    #expect(text.contains(short) && text.contains("raise the kernel memory limit"))
    let blocks = try #require(slack["blocks"] as? [[String: Any]])
    let blockText = blocks.compactMap { ($0["text"] as? [String: Any])?["text"] as? String }.joined(separator: "\n")
    for needed in ["Fixture Author", "#12", "default", "How sure", "steps", "fixes it", report.path] {
      #expect(blockText.contains(needed), "slack blocks lack '\(needed)': \(blockText)")
    }

    let teams = try WebhookServer.body(try #require(try server.requests(at: "/teams").first))
    #expect(teams["@type"] as? String == "MessageCard")
    let facts = try #require((teams["sections"] as? [[String: Any]])?.first?["facts"] as? [[String: String]])
    let named = Dictionary(facts.map { ($0["name"] ?? "", $0["value"] ?? "") }, uniquingKeysWith: { first, _ in first })
    #expect(named["Culprit"]?.contains(bench.culprit) == true)
    #expect(named["Pull request"] == "#12")
    #expect(named["Environment"] == "default")
    #expect(named["Revert proof"]?.contains("fixes it") == true)
    #expect(named["Report"] == report.path)

    // The json format and the command get the --json result object (without the deliveries).
    var printed = result
    printed["notifications"] = nil
    let json = try WebhookServer.body(try #require(try server.requests(at: "/json").first))
    #expect(NSDictionary(dictionary: json) == NSDictionary(dictionary: printed))
    let piped = try #require(
      try JSONSerialization.jsonObject(with: Data(contentsOf: received)) as? [String: Any])
    #expect(NSDictionary(dictionary: piped) == NSDictionary(dictionary: printed))
    #expect(
      try server.requests().allSatisfy { ($0["headers"] as? [String: String])?["content-type"] == "application/json" })

    let shown = Self.everythingShown(output, bench: bench)
    #expect(!shown.contains("SECRETTOKEN"))
    #expect(!shown.contains("127.0.0.1:\(server.port)"))
    // A command destination runs without the variables holding webhook addresses.
    let seen = try String(contentsOf: commandEnvironment, encoding: .utf8)
    #expect(seen.contains("BISECT_OUTCOME=culprit"))
    #expect(!seen.contains("SLACK_HOOK") && !seen.contains("SECRETTOKEN"))
  }

  @Test("a webhook that answers 500 twice is retried with backoff and delivered on the third attempt")
  func retriesServerErrors() throws {
    let bench = try Bench()
    let server = try WebhookServer(mode: "flaky", in: bench.directory.url)
    let config = try Self.configuration("notify:\n  - webhook: \(server.url("/hook"))\n    format: json\n", in: bench)
    let output = try bench.hunt(bad: "pass", ["--config", config])
    #expect(output.status == 0, "\(output.stderr)")
    let requests = try server.requests()
    #expect(requests.map { $0["status"] as? Int } == [500, 500, 200])
    // Backoff: the retries wait (0.5 s, then 1 s).
    let times = requests.compactMap { $0["time"] as? Double }
    #expect(times.count == 3 && times[1] - times[0] >= 0.4 && times[2] - times[1] >= 0.9, "\(times)")
    #expect(output.stdout.contains("Notified notify[1] (json webhook, URL in the configuration) after 3 attempts."))
  }

  @Test(
    "a webhook that never answers costs its timeout only: the hunt's exit code is unchanged and the failure is in the summary, without the URL"
  )
  func silentWebhook() throws {
    let bench = try Bench()
    let server = try WebhookServer(mode: "silent", in: bench.directory.url)
    let config = try Self.configuration(
      "notify:\n  - webhook: {url_env: HOOK}\n    timeout: 2s\n", in: bench)
    let started = Date()
    let output = try bench.hunt(bad: "pass", ["--config", config], environment: ["HOOK": server.url("/SECRETTOKEN")])
    let elapsed = Date().timeIntervalSince(started)
    #expect(output.status == 0, "\(output.stderr)")
    #expect(elapsed < 20, "the hunt took \(elapsed) s")
    #expect(output.stdout.contains("The first bad commit is \(bench.culprit)"))
    #expect(output.stdout.contains("Notification notify[1] (slack webhook, URL from $HOOK) FAILED"))
    #expect(output.stdout.contains("no answer within"))
    #expect(output.stdout.contains("exit code are unchanged"))
    #expect(try server.requests().count >= 1)
    let shown = Self.everythingShown(output, bench: bench)
    #expect(!shown.contains("SECRETTOKEN") && !shown.contains("127.0.0.1:\(server.port)"))
  }

  @Test(
    "SIGTERM while a webhook hangs cuts the notification short: the hunt exits at once with its own code and summary, its environment restored"
  )
  func signalDuringNotification() throws {
    let bench = try Bench()
    let server = try WebhookServer(mode: "silent", in: bench.directory.url)
    let config = try Self.configuration("notify:\n  - webhook: {url_env: HOOK}\n    timeout: 40s\n", in: bench)
    let process = Process()
    process.executableURL = bisectDeployExecutable
    process.arguments = [
      "--repo", bench.repo.path, "--good", "v0", "--bad", "pass", "--deploy", Bench.deploy, "--test", Bench.test,
      "--config", config,
    ]
    process.environment = bench.environment.merging(["HOOK": server.url("/SECRETTOKEN")]) { _, new in new }
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let deadline = Date().addingTimeInterval(60)
    while try server.requests().isEmpty, process.isRunning, Date() < deadline { usleep(20_000) }
    #expect(try server.requests().count == 1, "the webhook was never called")
    let signalled = Date()
    kill(process.processIdentifier, SIGTERM)
    let stdout = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let reaction = Date().timeIntervalSince(signalled)
    #expect(reaction < 5, "exited \(reaction) s after SIGTERM, not the notification's 40 s")
    #expect(process.terminationStatus == 0, "\(stdout)\(stderr)")
    #expect(stdout.contains("The first bad commit is \(bench.culprit)"))
    #expect(stdout.contains("Restored default to "), "\(stdout)")
    #expect(stderr.contains("stopping the notifications; the hunt's outcome is stored"), "\(stderr)")
    #expect(!stderr.contains("left as it is"), "\(stderr)")
  }

  @Test("a url_env naming an unset variable is refused before anything is deployed (exit 78)")
  func unsetVariable() throws {
    let bench = try Bench()
    let config = try Self.configuration("notify:\n  - webhook: {url_env: NOT_SET_ANYWHERE}\n", in: bench)
    let output = try bench.hunt(bad: "pass", ["--config", config])
    #expect(output.status == 78)
    #expect(output.stderr.contains("NOT_SET_ANYWHERE is not set"))
    #expect(bench.deploys().isEmpty)
  }

  @Test("nightly runs notify only when the answer changes: a new culprit, then the regression gone")
  func nightlyNotifiesChanges() throws {
    let bench = try Bench()
    let server = try WebhookServer(mode: "ok", in: bench.directory.url)
    let config = try Self.configuration(
      """
      deploy: \(Bench.deploy)
      test: \(Bench.test)
      notify:
        - webhook: \(server.url("/night"))
          format: json
      """, in: bench)
    func night(_ tip: String) throws -> ProcessOutput {
      try git(["branch", "-f", "nightly", tip], in: bench.repo)
      return try bisectDeploy(
        ["nightly", "--repo", bench.repo.path, "--config", config, "--branch", "nightly"],
        environment: bench.environment)
    }
    #expect(try night("v0").status == 0)
    #expect(try server.requests().isEmpty)  // good, as before: nothing to say
    #expect(try night("pass").status == 10)
    var requests = try server.requests()
    #expect(requests.count == 1)
    let first = try WebhookServer.body(try #require(requests.first))
    #expect(first["outcome"] as? String == "culprit")
    #expect((first["culprit"] as? [String: Any])?["id"] as? String == bench.culprit)
    #expect((first["nightly"] as? [String: Any])?["branch"] as? String == "nightly")
    #expect(try night("still").status == 10)  // still bad, same culprit: the same answer
    #expect(try server.requests().count == 1)
    // Fixed: C reverted on main's line, and nothing else that breaks.
    try git(["checkout", "-q", "-b", "fixed", "pass"], in: bench.repo)
    try git(["revert", "--no-edit", bench.culprit], in: bench.repo)
    try git(["checkout", "-q", "main"], in: bench.repo)
    #expect(try night("fixed").status == 0)
    requests = try server.requests()
    #expect(requests.count == 2)
    let gone = try WebhookServer.body(requests[1])
    #expect(gone["outcome"] as? String == "no-regression")
  }
}
