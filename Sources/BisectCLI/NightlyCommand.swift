import ArgumentParser
import Foundation
import GitKit
import History
import HuntKit
import HuntReport
import HuntStore
import HuntSummaries
import Notify
import Runner

/// `bisect-deploy nightly`: for a scheduler. Tests the branch tip once; when it turned bad
/// since the last good night, hunts between the two on its own and writes the report.
struct NightlyCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "nightly",
    abstract: "Deploy and test the branch tip; when it is bad and an earlier night was good, hunt and report.",
    discussion: """
      Exit codes for schedulers: 0 tip good (or already tested good), 10 tip bad and culprit \
      found, 11 tip bad with no good night before, 12 tip bad but no single culprit, 13 the tip \
      could not be tested; configuration and git errors as for a hunt. See docs/nightly.md.
      """)

  @Option(help: "The branch whose tip is tested.") var branch = "main"
  // Optional so that help says the default once, in words.
  @Option(name: .customLong("repo"), help: "The repository, or any folder inside it. (default: the current folder)")
  var repoOption: String?
  @Option(help: "The configuration file. (default: bisect-deploy.yml at the repository root, if present)")
  var config: String?
  @Option(help: "The deploy command. (default: the configuration's deploy, else none: no deploy step)")
  var deploy: String?
  @Option(help: "The smoke test. (default: the configuration's test; one is required)") var test: String?
  @Option(
    help:
      "The environment to deploy to. (default: the configuration's environment, else dev if defined, else the only one defined, else one called default)"
  )
  var env: String?
  @Option(
    name: .customLong("allow-protected"), help: "Allow deploying to this protected environment (repeat for several).")
  var allowProtected: [String] = []
  @Option(
    help:
      "The state: a file or a postgres:// URL. (default: BISECT_DEPLOY_STATE, else the configuration's state, else .git/bisect-deploy/state.sqlite)"
  )
  var state: String?
  @Option(help: "Where the report of a hunt goes (.html or .md). (default: .git/bisect-deploy/reports/)")
  var report: String?
  @Flag(help: "Print only the result.") var quiet = false

  /// The repository folder the user named, or the current folder.
  var repo: String { repoOption ?? "." }

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
    try configuration.checkNotifications(environment: ProcessInfo.processInfo.environment)
    request = HuntRequest(
      repositoryPath: repo, bad: branch, goods: [], configuration: configuration,
      allowedProtected: Set(allowProtected), state: try stateLocation(flag: state, configuration: configuration),
      arguments: storedArguments())
    // What the newest night said, read before this one is recorded: only a change is notified.
    let previous =
      configuration.notify.isEmpty
      ? nil : await previousAnswer(configuration, repository: repository, state: request.state)
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
    var reportPath: String?
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
          reportPath = URL(fileURLWithPath: path).standardizedFileURL.path
        }
      } catch {
        printError("bisect-deploy: could not write the report '\(path)': \(CommandFailure(error).message)")
      }
    }
    if let notice = nightlyNotice(outcome, previous: previous, configuration: configuration, reportPath: reportPath) {
      let logs = configuration.logFolder(gitDirectory: repository.gitDirectory)
      let deliveries = await HuntNotifications.send(notice, configuration: configuration, logDirectory: logs)
      for line in HuntNotifications.lines(deliveries) { print(line) }
    }
    if outcome.exitCode != 0 { throw ExitCode(outcome.exitCode) }
  }

  /// A night's answer, as the next night compares it.
  struct NightAnswer: Sendable, Hashable {
    var tip: String
    var bad: Bool
    /// The culprit its hunt named, when it named one.
    var culprit: String?
  }

  /// The newest night's answer for this branch, environment and settings; nil before the
  /// first night (or when the state cannot be read: the night itself then says why).
  func previousAnswer(_ configuration: Configuration, repository: Repository, state location: StateLocation?) async
    -> NightAnswer?
  {
    let location = stateLocation(location, in: repository)
    if case .file(let path) = location, !FileManager.default.fileExists(atPath: path) { return nil }
    guard let environment = try? configuration.environment() else { return nil }
    let branch = branch
    return try? await withStateStore(location) { store -> NightAnswer? in
      guard
        let night = try await store.latestNight(
          branch: branch, environment: environment.name, fingerprint: configuration.fingerprint(for: environment))
      else { return nil }
      var culprit: String?
      if night.verdict == .bad, let id = night.huntID, let stored = try await store.hunt(id: id)?.outcome {
        let outcome = OutcomeText(stored)
        if outcome.kind == .culprit { culprit = outcome.commits.first }
      }
      return NightAnswer(tip: night.commit, bad: night.verdict == .bad, culprit: culprit)
    }
  }

  /// The notice of a night whose answer changed (a new culprit, a regression gone, a tip that
  /// could not be tested); nil when it says what the last night said.
  func nightlyNotice(
    _ outcome: NightlyOutcome, previous: NightAnswer?, configuration: Configuration, reportPath: String?
  ) -> Notice? {
    guard !configuration.notify.isEmpty else { return nil }
    let environment = (try? configuration.environment().name) ?? "default"
    let nightly: [String: Any] = ["branch": branch, "previousTip": previous?.tip ?? NSNull()]
    func plain(_ trigger: NotifyTrigger, _ headline: String, tip: ObjectID, facts: [NoticeFact]) -> Notice {
      let summary: [String: Any] = [
        "event": "result", "outcome": trigger.rawValue, "exitCode": Int(outcome.exitCode), "environment": environment,
        "bad": tip.hex, "nightly": nightly,
      ]
      return Notice(
        trigger: trigger, headline: "nightly \(branch): \(headline)",
        facts: [NoticeFact("Branch", "\(branch) at \(tip.short())"), NoticeFact("Environment", environment)] + facts,
        summary: JSONEvents.encoded(summary) ?? Data())
    }
    switch outcome {
    case .alreadyTested:
      return nil
    case .good(let tip):
      guard let previous, previous.bad else { return nil }
      let was = previous.culprit.map { "; the culprit was \(String($0.prefix(7)))" } ?? ""
      return plain(
        .noRegression, "\(environment) is good again at \(tip.short()): the regression is gone", tip: tip,
        facts: [NoticeFact("Before", "bad at \(String(previous.tip.prefix(7)))\(was)")])
    case .badWithoutGoodNight(let tip):
      guard previous?.bad != true else { return nil }
      return plain(
        .failure, "\(environment) is bad at \(tip.short()), and no earlier night was good: nothing to hunt between",
        tip: tip, facts: [])
    case .untested(let tip, let why):
      return plain(.failure, "\(tip.short()) could not be tested on \(environment): \(why)", tip: tip, facts: [])
    case .hunted(let report, _):
      var culprit: String?
      if case .culprit(let id) = report.outcome { culprit = id.hex }
      if let previous, previous.bad, previous.culprit == culprit { return nil }
      var summary = JSONEvents.result(report, exitCode: outcome.exitCode)
      summary["nightly"] = nightly
      return HuntNotifications.notice(
        for: report, summary: summary, reportPath: reportPath, prefix: "nightly \(branch): ")
    }
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
