import ArgumentParser
import DemoFixture
import Foundation

/// `bisect-deploy demo`: the 2017-03-23 kernel-death incident, hunted on this machine.
struct DemoCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "demo",
    abstract: "Hunt the 2017-03-23 kernel-death incident on a local stand-in cluster (see docs/demo.md).",
    discussion: """
      Builds the incident's infra repo in a temporary folder, prepares a Python environment \
      with jupyter_client and ipykernel once (cached in ~/.cache/bisect-deploy), hunts from the \
      known-good tag to the tip with a kernel smoke test, shows that the 2017 check (status \
      endpoint only) passes on the culprit, and restores known-good.
      """
  )

  @Option(help: "The folder of the incident fixture. (default: the one installed beside the executable)")
  var fixtures: String?

  @Option(help: "Keep the demo's files in this folder. (default: a temporary folder, removed at the end)")
  var workDirectory: String?

  func run() throws {
    let script = try fixtureDirectory().appendingPathComponent("run-demo.sh")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = [script.path, Self.executablePath()] + (workDirectory.map { [$0] } ?? [])
    if workDirectory != nil {
      var environment = ProcessInfo.processInfo.environment
      environment["KEEP_DEMO"] = "1"
      process.environment = environment
    }
    try process.run()
    process.waitUntilExit()
    if process.terminationStatus != 0 { throw ExitCode(process.terminationStatus) }
  }

  /// This executable's own path, for the demo script to call back.
  static func executablePath() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
      ?? URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
  }

  /// `--fixtures`, else the resource bundle installed beside the executable, else
  /// `Fixtures/incident` in a folder above the executable (a source checkout).
  func fixtureDirectory() throws -> URL {
    if let fixtures { return URL(fileURLWithPath: fixtures) }
    let executable = URL(fileURLWithPath: Self.executablePath())
    if let installed = DemoFixture.installed(besideExecutable: executable) { return installed }
    var folder = executable.deletingLastPathComponent()
    while folder.path != "/" {
      let candidate = folder.appendingPathComponent("Fixtures/incident")
      if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("run-demo.sh").path) {
        return candidate
      }
      folder = folder.deletingLastPathComponent()
    }
    throw CommandFailure(
      message: """
        Cannot find the demo's fixture: no \(DemoFixture.bundleName) folder beside \(executable.path). \
        Copy that folder (from .build/release/) next to the executable, or pass --fixtures DIR.
        """,
      status: .usage)
  }
}
