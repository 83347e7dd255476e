import ArgumentParser
import Foundation
import GitKit
import History
import HuntKit
import HuntReport
import HuntStore
import HuntSummaries
import Runner

/// `bisect-deploy nightly`: for a scheduler. Tests the branch tip once; when it turned bad
/// since the last good night, hunts between the two on its own and writes the report.
struct NightlyCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "nightly",
    abstract: "Deploy and test the branch tip; when it is bad and an earlier night was good, hunt and report.",
    discussion: """
      Exit codes for schedulers: 0 tip good (or already tested good), 10 tip bad and culprit
      found, 11 tip bad with no good night before, 12 tip bad but no single culprit, 13 the tip
      could not be tested; configuration and git errors as for a hunt. See docs/nightly.md.
      """)

  @Option(help: "The branch whose tip is tested.") var branch = "main"
  @Option(help: "The repository, or any folder inside it.") var repo: String = "."
  @Option(help: "The configuration file (default: bisect-deploy.yml at the repository root).") var config: String?
  @Option(help: "The deploy command.") var deploy: String?
  @Option(help: "The smoke test.") var test: String?
  @Option(help: "The environment.") var env: String?
  @Option(name: .customLong("allow-protected"), help: "Allow this protected environment.") var allowProtected:
    [String] =
      []
  @Option(help: "The state: a file or a postgres:// URL (default: .git/bisect-deploy/state.sqlite).")
  var state: String?
  @Option(help: "Where the report of a hunt goes (.html or .md; default: .git/bisect-deploy/reports/).")
  var report: String?
  @Flag(help: "Print only the result.") var quiet = false

  func run() async throws {
    let request: HuntRequest
    let repository: Repository
    repository = try Repository(at: repo)
    var configuration = try Configuration.discover(explicit: config, workTree: repository.workTree)
    if let deploy { configuration.deployCommand = deploy }
    if let test { configuration.testCommand = test }
    if let env { configuration.environmentNames = env.split(separator: ",").map(String.init) }
    // Nightly hunts reuse what earlier nights learned (docs/configuration.md).
    configuration.reuseVerdicts = true
    request = HuntRequest(
      repositoryPath: repo, bad: branch, goods: [], configuration: configuration,
      allowedProtected: Set(allowProtected), state: try stateLocation(flag: state, configuration: configuration),
      arguments: storedArguments())
    let stopper = HuntStopper()
    let trap = SignalTrap()
    defer { trap.stop() }
    let progress = ProgressPrinter(mode: ProgressPrinter.mode(quiet: quiet, verbose: false, json: false))
    let branch = self.branch
    let night = Task { () throws(HuntError) -> NightlyOutcome in
      try await runNightly(
        request, branch: branch, stopper: stopper, events: { progress.handle($0) }, openStore: openStateStore)
    }
    let watcher = Task {
      for await signal in trap.signals {
        stopper.stop(.signal(signal.rawValue))
        night.cancel()
      }
    }
    defer { watcher.cancel() }
    let outcome: NightlyOutcome
    outcome = try await night.value
    progress.finish()
    switch outcome {
    case .good(let tip):
      print("nightly: \(branch) at \(tip.short()) is good")
    case .alreadyTested(let tip, let verdict, let hunt):
      print(
        "nightly: \(branch) at \(tip.short()) was already tested: \(verdict.rawValue)\(hunt.map { "; \($0)" } ?? "")")
    case .badWithoutGoodNight(let tip):
      print("nightly: \(branch) at \(tip.short()) is bad, and no earlier night was good: nothing to hunt between")
    case .untested(let tip, let why):
      print("nightly: \(branch) at \(tip.short()) could not be tested: \(why)")
    case .hunted(let report, let good):
      print("nightly: \(branch) at \(report.bad.short()) is bad; hunted from the last good night \(good.short())")
      Summary.print(report)
      let path = self.report ?? defaultReportPath(repository: repository, tip: report.bad)
      do {
        let dependencies = presentDependencyHistories(of: configuration, gitDirectory: repository.gitDirectory)
        let summary = try await withStateStore(stateLocation(request.state, in: repository)) {
          store -> HuntSummary? in
          guard let record = try await store.hunt(id: report.huntID) else { return nil }
          return try await ReportBuilder.summary(
            of: record, store: store, repository: repository, dependencies: dependencies)
        }
        if let summary {
          try ReportBuilder.write(summary, to: path)
          print("Report: \(path)")
        }
      } catch {
        printError("bisect-deploy: could not write the report '\(path)': \(CommandFailure(error).message)")
      }
    }
    if outcome.exitCode != 0 { throw ExitCode(outcome.exitCode) }
  }

  /// The flags a nightly hunt is stored with, so that `resume` can start it again.
  func storedArguments() -> [String] {
    func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }
    var arguments = ["--repo", absolute(repo)]
    if let config { arguments += ["--config", absolute(config)] }
    if let deploy { arguments += ["--deploy", deploy] }
    if let test { arguments += ["--test", test] }
    if let env { arguments += ["--env", env] }
    if let state { arguments += ["--state", absolute(state)] }
    for name in allowProtected { arguments += ["--allow-protected", name] }
    return arguments
  }

  func defaultReportPath(repository: Repository, tip: ObjectID) -> String {
    let folder = URL(fileURLWithPath: repository.gitDirectory).appendingPathComponent("bisect-deploy/reports")
    try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder.appendingPathComponent("nightly-\(tip.short(10)).html").path
  }
}
