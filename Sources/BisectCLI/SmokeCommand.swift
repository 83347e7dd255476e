import ArgumentParser
import Foundation
import HuntKit
import KernelSmoke
import Runner

/// `bisect-deploy smoke`: smoke tests built into the tool, usable as a hunt's `test:`.
struct SmokeCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "smoke",
    abstract: "Smoke tests to use as a hunt's test (docs/smoke.md).",
    discussion: """
      Each exits as a hunt's test must: 0 good, 1 bad, and \(ExitStatus.smokeMisconfigured.rawValue) \
      when the test itself is set up wrong (no token, a malformed URL), which aborts the hunt \
      instead of blaming a commit.
      """,
    subcommands: [SmokeKernelCommand.self]
  )

  func run() async throws {
    throw CommandFailure(
      message:
        "name the smoke test to run: bisect-deploy smoke kernel --hub URL (see bisect-deploy smoke kernel --help).",
      status: .smokeMisconfigured)
  }
}

/// `bisect-deploy smoke kernel`: what a new JupyterHub user does (log in, get a server, start
/// a kernel, run code), through the hub's REST API and the kernel's WebSocket.
struct SmokeKernelCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "kernel",
    abstract: "Start a user's server on a JupyterHub, start a kernel, run code, check the result.",
    discussion: """
      The token comes from an environment variable (JUPYTERHUB_API_TOKEN unless --token-env \
      names another) and is never printed. Exit status: 0 good; 1 bad (hub down, spawn failed \
      or too slow, kernel died, an error or a wrong result); \(ExitStatus.smokeMisconfigured.rawValue) \
      misconfigured (no token, a malformed --hub, a token the hub refuses or that lacks rights): \
      a hunt that runs this as its test aborts instead of blaming a commit. See docs/smoke.md.
      """
  )

  @Option(help: "The hub's public URL, as users open it (http(s)://HOST[:PORT][/BASE/]).")
  var hub: String

  @Option(help: "The user whose server is started. (default: the token's own user)")
  var user: String?

  @Option(help: "The environment variable that holds the API token.")
  var tokenEnv = "JUPYTERHUB_API_TOKEN"

  @Option(help: "The code to run on the kernel. (default: 1+1)")
  var code: String?

  @Option(
    help:
      "The expected result (text/plain, or printed output). (default: 2 with the default code, nothing with --code)"
  )
  var expect: String?

  @Option(help: "The kernelspec to start.")
  var kernel = "python3"

  @Option(help: "Seconds (or 90s, 5m) from asking for the server until it is ready.")
  var spawnTimeout = "300"

  @Option(help: "Seconds (or 90s, 5m) for the kernel to answer kernel_info, and again for the code to finish.")
  var kernelTimeout = "60"

  @Flag(help: "Leave the user's server running at the end.")
  var keepServer = false

  @Flag(help: "Print one JSON object (verdict, reason, timings) on standard output instead of text.")
  var json = false

  func run() async throws {
    let settings = try checkedSettings()
    let test = KernelSmokeTest(settings: settings)
    let trap = SignalTrap()
    defer { trap.stop() }
    let run = Task { await test.run { line in printError("smoke: \(line)") } }
    let watcher = Task { () -> SignalTrap.Signal? in
      for await signal in trap.signals {
        run.cancel()
        return signal
      }
      return nil
    }
    let report = await run.value
    trap.stop()
    let signal = await watcher.value
    if json {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
      var data = (try? encoder.encode(report)) ?? Data("{}".utf8)
      // The exit status belongs to the object too: a reader of a log sees it.
      if var object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] {
        object["exitCode"] = Int(exitStatus(report, signal: signal))
        data =
          (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? data
      }
      writeJSON(String(decoding: data, as: UTF8.self))
    } else {
      switch report.verdict {
      case .good: print("good: \(report.reason)")
      case .bad: print("bad: \(report.reason)")
      case .misconfigured: printError("bisect-deploy: error: \(report.reason)")
      }
      if report.verdict != .misconfigured { print(report.timings) }
    }
    if let signal { printError("smoke: stopped by \(signal) (the kernel was deleted and the server asked to stop)") }
    let status = exitStatus(report, signal: signal)
    if status != 0 { throw ExitCode(status) }
  }

  func exitStatus(_ report: KernelSmokeReport, signal: SignalTrap.Signal?) -> Int32 {
    if let signal { return signal.exitStatus }
    switch report.verdict {
    case .good: return 0
    case .bad: return 1
    case .misconfigured: return ExitStatus.smokeMisconfigured.rawValue
    }
  }

  /// The settings, or the run ends as misconfigured (exit 200).
  func checkedSettings() throws -> KernelSmokeSettings {
    do {
      return try makeSettings()
    } catch {
      try refuse(error.errorDescription ?? "\(error)")
    }
  }

  /// Checks every option before the hub is asked anything.
  func makeSettings() throws(KernelSmokeError) -> KernelSmokeSettings {
    let address = try HubAddress(parsing: hub)
    let token = try HubToken(fromEnvironment: ProcessInfo.processInfo.environment, variable: tokenEnv)
    let spawn = try duration(spawnTimeout, option: "--spawn-timeout")
    let kernelLimit = try duration(kernelTimeout, option: "--kernel-timeout")
    let expected = expect ?? (code == nil ? KernelSmokeSettings.defaultExpected : nil)
    return try KernelSmokeSettings(
      hub: address, token: token, user: user, kernel: kernel, code: code ?? KernelSmokeSettings.defaultCode,
      expected: expected, spawnTimeout: spawn, kernelTimeout: kernelLimit, keepServer: keepServer)
  }

  func duration(_ text: String, option: String) throws(KernelSmokeError) -> Duration {
    guard let value = parseDuration(text), value > .zero else {
      throw .invalidOption(option: "\(option) '\(text)'", reason: "give \(durationRule(positive: true))")
    }
    return value
  }

  /// A misconfigured test: said on standard error (and as JSON with --json), exit 200.
  func refuse(_ message: String) throws -> Never {
    if json {
      let object: [String: Any] = [
        "verdict": "misconfigured", "reason": message, "exitCode": Int(ExitStatus.smokeMisconfigured.rawValue),
        "seconds": [String: Double](),
      ]
      if let data = try? JSONSerialization.data(
        withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
      {
        writeJSON(String(decoding: data, as: UTF8.self))
      }
    }
    throw CommandFailure(message: message, status: .smokeMisconfigured)
  }
}
