import ArgumentParser
import BisectEngine
import Foundation
import GitKit
import History
import HuntKit
import HuntReport
import HuntStore
import HuntSummaries
import Notify
import Runner
import Synchronization

/// `bisect-deploy --good <rev> --bad <rev>`: the whole hunt, from endpoints to culprit to restore.
struct HuntCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "hunt",
    abstract: "Deploy and smoke-test midpoints between --good and --bad until the culprit is found (the default).",
    discussion: """
      Settings come from bisect-deploy.yml at the repository root (or --config); flags override \
      them. Only the test is required. Commands run with /bin/sh -c in a clean checkout of the \
      candidate and learn the commit from BISECT_* environment variables. See \
      docs/configuration.md.
      """
  )

  @OptionGroup var range: RangeOptions

  @Option(help: "The configuration file. (default: bisect-deploy.yml at the repository root, if present)")
  var config: String?

  @Option(
    help:
      "The deploy command (shell text; the commit comes in $BISECT_COMMIT). (default: the configuration's deploy, else none: no deploy step)"
  )
  var deploy: String?

  @Option(
    help:
      "The smoke test: exit 0 good, 125 skip, 1-127 bad, above 127 abort. (default: the configuration's test; one is required)"
  )
  var test: String?

  @Option(
    help:
      "Where to leave the environment: good (the last good commit), original, none, or a revision. (default: the configuration's restore, else good)"
  )
  var restore: String?

  @Option(
    help: ArgumentHelp(
      "An environment to deploy to (one the configuration defines, when it defines any). (default: the configuration's environment, else dev if defined, else the only one defined, else one called default)",
      discussion: "Repeat it (or separate names with commas) to test several commits at once, one per environment."))
  var env: [String] = []

  @Option(
    name: .customLong("env-pool"),
    help: ArgumentHelp(
      "Environments that hunts share (names separated by commas): take free ones, waiting when none is free.",
      discussion:
        "With --parallel K the hunt takes up to K of them; many hunts on many hosts share one pool (docs/fleet.md)."
    ))
  var envPool: String?

  @Option(
    help:
      "With --env-pool: how many of the pool's environments to take. (default: the configuration's parallel, else 1)"
  )
  var parallel: Int?

  @Option(
    help:
      "How long to wait for a free environment. (default: the configuration's wait_for_env, else 1h with --env-pool, no waiting without)"
  )
  var waitForEnv: String?

  @Option(
    help:
      "How long a lease on an environment lasts unless renewed. (default: the configuration's lease.duration, else 30s)"
  )
  var leaseDuration: String?

  @Option(help: "How often the hunt renews its leases. (default: the configuration's lease.renew, else 10s)")
  var leaseRenew: String?

  @Flag(help: "Find the merge on the first-parent line first, then the commit inside it (docs/descend.md).")
  var descend = false

  @Flag(
    name: .customLong("descend-deps"),
    help: "When the culprit bumps a pinned dependency, find the commit in that dependency (docs/dependencies.md).")
  var descendDependencies = false

  @Flag(
    name: .customLong("allow-network"),
    help: "Let --descend-deps clone and fetch the dependencies given by url: in the configuration.")
  var allowNetwork = false

  @Option(
    name: .customLong("repeat"),
    help: "Run the test this many times per step (see --repeat-rule). (default: the configuration's repeat, else 1)")
  var repeatRuns: Int?

  @Option(
    help: "How repeated runs decide: majority or any-bad. (default: the configuration's repeat_rule, else majority)")
  var repeatRule: String?

  @Option(
    help:
      "After the culprit is found, test it and its parents this many more times each. (default: the configuration's confirm, else 0)"
  )
  var confirm: Int?

  @Flag(help: "After the culprit is found, deploy and test bad with the culprit reverted on top (docs/revert.md).")
  var confirmRevert = false

  @Flag(help: "Probabilistic bisection for flaky tests (docs/flaky.md).")
  var flaky = false

  @Option(
    help:
      "How often a good commit's test fails (0.05 or 5%; implies --flaky). (default: the configuration's flaky.false_bad, else estimated)"
  )
  var falseBad: String?

  @Option(
    help:
      "How often a bad commit's test passes, below 0.8 (implies --flaky). (default: the configuration's flaky.false_good, else estimated)"
  )
  var falseGood: String?

  @Option(
    help:
      "Stop when one commit is the culprit with this probability (implies --flaky). (default: the configuration's flaky.confidence, else 0.99)"
  )
  var confidence: String?

  @Option(
    help:
      "The most test runs to spend (implies --flaky). (default: the configuration's flaky.budget, else the engine's, docs/engine.md)"
  )
  var budget: Int?

  @Option(
    help:
      "What one deploy costs, as a duration such as 3m (implies --flaky). (default: the configuration's flaky.deploy_cost, else the hunt's measured mean)"
  )
  var deployCost: String?

  @Option(
    help:
      "What one test run costs, as a duration such as 20s (implies --flaky). (default: the configuration's flaky.test_cost, else the hunt's measured mean)"
  )
  var testCost: String?

  @Option(
    name: .customLong("allow-protected"), help: "Allow deploying to this protected environment (repeat for several).")
  var allowProtected: [String] = []

  @Option(
    help:
      "Seconds (or 90s, 10m, 1h) before a deploy is stopped. (default: the configuration's timeouts.deploy, else 30m)"
  )
  var deployTimeout: String?

  @Option(
    help: "Seconds (or 90s, 10m, 1h) before a test is stopped. (default: the configuration's timeouts.test, else 10m)")
  var testTimeout: String?

  @Option(
    help:
      "Stop the hunt (and restore) after this long: seconds, or 90s, 10m, 1h. (default: the configuration's max_duration, else no limit)"
  )
  var maxDuration: String?

  @Flag(name: .customLong("no-verify"), help: "Do not test bad and good before bisecting.")
  var noVerify = false

  @Flag(help: "Print only the summary.")
  var quiet = false

  @Flag(help: "Print every phase and the end of each failing command's log, also on a terminal.")
  var verbose = false

  // `plan` takes this flag too (it takes the hunt's options): said for both.
  @Flag(help: "Print JSON on standard output instead of text: a hunt's events, or plan's one object (docs/json.md).")
  var json = false

  @Option(help: "Also write a report: PATH.md (Markdown) or PATH.html (a page with a picture of the search).")
  var report: String?

  @Option(
    help: ArgumentHelp(
      "The state: a file, or postgres://USER@HOST:PORT/DATABASE shared by a team. (default: BISECT_DEPLOY_STATE, else the configuration's state, else .git/bisect-deploy/state.sqlite)",
      discussion: "The password comes from PGPASSWORD or ~/.pgpass."
    ))
  var state: String?

  @Flag(help: "Reuse verdicts of earlier hunts with the same deploy, test and environment.")
  var reuseVerdicts = false

  /// The arguments this command was parsed from, stored with the hunt for `resume`.
  var arguments: [String] = []
  /// The stopped hunt `resume` or `reset` continues (not a flag).
  var resumeHuntID: Int64?
  /// The commits the stopped hunt searched, as stored (not a flag): `resume` and `reset` use
  /// them, never the names again (a tag deleted or a branch moved since changes nothing).
  var storedEnds: (bad: String, goods: [String])?

  /// Every option, so that `plan` sorts each one into those that change the plan and those
  /// it ignores (and says so).
  enum CodingKeys: String, CodingKey, CaseIterable {
    case range, config, deploy, test, restore, env, allowProtected, deployTimeout, testTimeout, maxDuration
    case noVerify, quiet, state, reuseVerdicts, verbose, json, report
    case descend, repeatRuns, repeatRule, confirm, flaky, falseBad, falseGood, confidence, budget, deployCost, testCost
    case envPool, parallel, waitForEnv, leaseDuration, leaseRenew
    case descendDependencies, allowNetwork
    case confirmRevert
  }

  /// Every flag's value is checked here, before the repository is opened or anything is
  /// deployed: a wrong one exits 64 with the flag named.
  func validate() throws {
    for (flag, text) in [("--test", test), ("--deploy", deploy)] {
      if let text, text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
        throw ValidationError("\(flag) is empty: give a shell command.")
      }
    }
    if let repeatRuns, repeatRuns < 1 { throw ValidationError("--repeat \(repeatRuns): give 1 or more runs.") }
    if let confirm, confirm < 0 { throw ValidationError("--confirm \(confirm): give 0 or more runs.") }
    if let budget, budget < 1 { throw ValidationError("--budget \(budget): give 1 or more test runs.") }
    if let repeatRule, RepeatRule(rawValue: repeatRule) == nil {
      throw ValidationError("--repeat-rule '\(repeatRule)': give majority or any-bad.")
    }
    if let falseBad { _ = try rate(falseBad, flag: "--false-bad", below: 0.5) }
    if let falseGood { _ = try rate(falseGood, flag: "--false-good", below: FlakyMode.falseGoodLimit) }
    if let confidence { _ = try rate(confidence, flag: "--confidence", below: 1, above: 0.5) }
    if let deployCost, parseDuration(deployCost) == nil {
      throw ValidationError("--deploy-cost '\(deployCost)': give \(durationRule(positive: false)).")
    }
    _ = try duration(testCost, flag: "--test-cost")
    _ = try duration(deployTimeout, flag: "--deploy-timeout")
    _ = try duration(testTimeout, flag: "--test-timeout")
    _ = try duration(maxDuration, flag: "--max-duration")
    _ = try duration(leaseDuration, flag: "--lease-duration")
    _ = try duration(leaseRenew, flag: "--lease-renew")
    if let waitForEnv, parseDuration(waitForEnv) == nil {
      throw ValidationError("--wait-for-env '\(waitForEnv)': give \(durationRule(positive: false)).")
    }
    if let parallel, parallel < 1 { throw ValidationError("--parallel \(parallel): give 1 or more environments.") }
    if envPool != nil && !env.isEmpty {
      throw ValidationError(
        "--env and --env-pool cannot be combined: name the environments, or a pool to take them from.")
    }
    if parallel != nil && envPool == nil {
      throw ValidationError("--parallel goes with --env-pool (several named environments: --env dev1,dev2).")
    }
    if let envPool, envPool.split(separator: ",").allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
      throw ValidationError("--env-pool is empty: give the pool's environments, separated by commas.")
    }
    // An empty name would fall back to the default environment without a word.
    for value in env
    where value.split(separator: ",", omittingEmptySubsequences: false).contains(where: {
      $0.trimmingCharacters(in: .whitespaces).isEmpty
    }) {
      throw ValidationError(
        "--env '\(value.terminalSafe())' names an empty environment: give the environments' names, separated by commas."
      )
    }
    if let state { _ = try stateLocation(flag: state, configuration: nil) }
    if let report { try Self.checkReportPath(report) }
  }

  /// A report is written at the end of the hunt; its path is checked at the start, so that a
  /// typo does not cost a whole hunt's report.
  static func checkReportPath(_ path: String) throws {
    let lower = path.lowercased()
    guard [".md", ".markdown", ".html", ".htm"].contains(where: { lower.hasSuffix($0) }) else {
      throw ValidationError("--report '\(path)': name a .md (Markdown) or .html file.")
    }
    let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
      throw ValidationError("--report '\(path)': the folder '\(folder)' does not exist. Create it first.")
    }
    guard FileManager.default.isWritableFile(atPath: folder) else {
      throw ValidationError("--report '\(path)': the folder '\(folder)' is not writable.")
    }
  }

  func run() async throws {
    let request = try makeRequest()
    // A webhook whose URL variable is missing would lose the hunt's news at its end: refused
    // now, before anything is deployed (not by `reset`, which notifies no one).
    try request.configuration.checkNotifications(environment: ProcessInfo.processInfo.environment)
    let stopper = HuntStopper()
    let trap = SignalTrap()
    defer { trap.stop() }
    let progress = ProgressPrinter(mode: ProgressPrinter.mode(quiet: quiet, verbose: verbose, json: json))
    let hunt = Task { () throws(HuntError) -> HuntReport in
      try await runHunt(
        request, stopper: stopper, events: { event in progress.handle(event) }, openStore: openStateStore)
    }
    // Every stop ends the running steps: a signal, the deadline, and a lease the hunt lost.
    stopper.whenStopped { hunt.cancel() }
    let sending = PendingNotifications()
    let watcher = Task {
      for await signal in trap.signals {
        // Once the hunt has ended its outcome is stored and its environment restored: a
        // signal then cuts the notifications short, and says so.
        if let notifications = sending.task {
          notifications.cancel()
          printError("bisect-deploy: stopping the notifications; the hunt's outcome is stored.")
          continue
        }
        stopper.stop(.signal(signal.rawValue))
        hunt.cancel()
        if stopper.signals == 1 {
          printError(
            "bisect-deploy: stopping: the running step ends, then the environment is restored (Ctrl-C again stops the restore too)."
          )
        } else if stopper.signals == 2 {
          printError(
            "bisect-deploy: stopping the restore now; the environment is left as it is. Finish later with bisect-deploy resume."
          )
        }
      }
    }
    let deadline = Task {
      guard let limit = request.configuration.maxDuration else { return }
      try await Task.sleep(for: limit)
      stopper.stop(.deadline)
      hunt.cancel()
    }
    defer {
      watcher.cancel()
      deadline.cancel()
    }
    let report: HuntReport
    do {
      report = try await hunt.value
    } catch {
      progress.finish()
      // A hunt that could not run is news too (`on: failure`); the error still decides the exit.
      let failure = CommandFailure(error)
      let environment = request.configuration.environmentNames.joined(separator: ",")
      let deliveries = await HuntNotifications.send(
        HuntNotifications.failureNotice(
          failure.message, environment: environment.isEmpty ? "default" : environment,
          exitCode: failure.status.rawValue),
        configuration: request.configuration, logDirectory: HuntNotifications.fallbackLogDirectory())
      for line in HuntNotifications.lines(deliveries) { printError("bisect-deploy: \(line)") }
      throw error
    }
    progress.finish()
    var reportWritten = true
    if let path = self.report {
      reportWritten = await writeReport(
        of: report, to: path, state: request.state, configuration: request.configuration)
    }
    var status = Summary.exitStatus(for: report.outcome)
    // The answer is said first; a report or an outcome that could not be written then makes
    // a successful hunt exit 74 (a hunt that failed keeps its own code).
    if let failure = report.stateFailure {
      printError(
        "bisect-deploy: error: the outcome could not be stored: \(failure). The hunt stays open: `bisect-deploy resume` finishes it."
      )
    }
    if status == 0 && (report.stateFailure != nil || !reportWritten) { status = ExitStatus.ioError.rawValue }
    var result = JSONEvents.result(report, exitCode: status)
    let hint = IntermittentHint(report, arguments: arguments, flaky: request.configuration.flaky != nil)
    if let hint {
      result["intermittent"] = ["why": hint.why, "command": hint.command, "arguments": hint.arguments]
    }
    // Notifications go out once the answer is final; whatever happens to them, the exit code
    // stays the hunt's.
    let reportPath = reportWritten ? self.report.map { URL(fileURLWithPath: $0).standardizedFileURL.path } : nil
    let notice = HuntNotifications.notice(for: report, summary: result, reportPath: reportPath)
    let notifying = Task {
      await HuntNotifications.send(notice, configuration: request.configuration, logDirectory: report.logDirectory)
    }
    sending.task = notifying
    let deliveries = await notifying.value
    if json {
      if !deliveries.isEmpty { result["notifications"] = HuntNotifications.json(deliveries) }
      JSONEvents.emit(result)
    } else {
      // `resume` and `reset` find the hunt with the same repository and state options.
      let continuing =
        (range.repoOption.map { ["--repo", $0] } ?? []) + (state.map { ["--state", $0] } ?? [])
      Summary.print(report, continuing: continuing)
      if let hint { printOut(hint.lines.joined(separator: "\n")) }
      for line in HuntNotifications.lines(deliveries) { printOut(line) }
    }
    if status != 0 { throw ExitCode(status) }
  }

  /// Writes the report file from the state database; a failure is said, not fatal: the hunt's
  /// result and exit code matter more.
  private func writeReport(of report: HuntReport, to path: String, state: StateLocation?, configuration: Configuration)
    async -> Bool
  {
    do {
      let repository = try Repository(at: range.repo)
      let dependencies = presentDependencyHistories(of: configuration, gitDirectory: repository.gitDirectory)
      let summary = try await withStateStore(stateLocation(state, in: repository)) { store in
        guard let record = try await store.hunt(id: report.huntID) else {
          throw ReportError.cannotWrite(path: path, reason: "hunt #\(report.huntID) is not in the state database")
        }
        return try await ReportBuilder.summary(
          of: record, store: store, repository: repository, dependencies: dependencies)
      }
      try ReportBuilder.write(summary, to: path)
      if !json { printError("report: \(path)") }
      return true
    } catch {
      printError("bisect-deploy: error: could not write the report '\(path)': \(CommandFailure(error).message)")
      return false
    }
  }

  /// The configuration file, then flags on top.
  func makeRequest() throws -> HuntRequest {
    let repository = try Repository(at: range.repo)
    var configuration = try Configuration.discover(explicit: config, workTree: repository.workTree)
    if let deploy { configuration.deployCommand = deploy }
    if let test { configuration.testCommand = test }
    if let restore { configuration.restoreTarget = RestoreTarget(parsing: restore) }
    let environments = env.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
    if !environments.isEmpty { configuration.environmentNames = environments.filter { !$0.isEmpty } }
    if descend { configuration.descend = true }
    if descendDependencies { configuration.descendDependencies = true }
    if allowNetwork { configuration.allowNetwork = true }
    // The flags' values were checked in `validate()`.
    if let repeatRuns { configuration.testRuns = repeatRuns }
    if let repeatRule, let rule = RepeatRule(rawValue: repeatRule) { configuration.repeatRule = rule }
    if let confirm { configuration.confirmRuns = confirm }
    if confirmRevert { configuration.confirmRevert = true }
    if flaky || falseBad != nil || falseGood != nil || confidence != nil || budget != nil || deployCost != nil
      || testCost != nil
    {
      var mode = configuration.flaky ?? FlakyMode()
      if let falseBad { mode.falseBad = try rate(falseBad, flag: "--false-bad", below: 0.5) }
      if let falseGood {
        mode.falseGood = try rate(falseGood, flag: "--false-good", below: FlakyMode.falseGoodLimit)
      }
      if let confidence { mode.confidence = try rate(confidence, flag: "--confidence", below: 1, above: 0.5) }
      if let budget { mode.budget = budget }
      if let deployCost { mode.deployCost = parseDuration(deployCost) }
      if let testCost { mode.testCost = try duration(testCost, flag: "--test-cost") }
      configuration.flaky = mode
    }
    if let envPool {
      configuration.environmentPool = envPool.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        .filter { !$0.isEmpty }
      configuration.environmentNames = []
    } else if !environments.isEmpty {
      configuration.environmentPool = []
    }
    if let parallel { configuration.parallel = parallel }
    if let waitForEnv { configuration.waitForEnvironment = parseDuration(waitForEnv) }
    configuration.leaseDuration = try duration(leaseDuration, flag: "--lease-duration") ?? configuration.leaseDuration
    configuration.leaseRenewal = try duration(leaseRenew, flag: "--lease-renew") ?? configuration.leaseRenewal
    if range.firstParent { configuration.firstParent = true }
    if !range.paths.isEmpty { configuration.paths = range.paths }
    if noVerify { configuration.verifyEndpoints = false }
    if reuseVerdicts { configuration.reuseVerdicts = true }
    if let given = try duration(deployTimeout, flag: "--deploy-timeout") {
      configuration.deployTimeout = given
      configuration.deployTimeoutGiven = true
    }
    configuration.testTimeout = try duration(testTimeout, flag: "--test-timeout") ?? configuration.testTimeout
    configuration.maxDuration = try duration(maxDuration, flag: "--max-duration") ?? configuration.maxDuration
    let ends = try storedEnds ?? range.revisions(in: repository)
    var request = HuntRequest(
      repositoryPath: range.repo, bad: ends.bad, goods: ends.goods, configuration: configuration,
      allowedProtected: Set(allowProtected), state: try stateLocation(flag: state, configuration: configuration),
      arguments: arguments)
    request.resumeHuntID = resumeHuntID
    return request
  }

  private func rate(_ text: String, flag: String, below: Double, above: Double = 0) throws -> Double {
    guard let value = parseRate(text), value >= above, value < below else {
      throw ValidationError(
        "\(flag) '\(text)': give a probability from \(above) up to (not including) \(below), such as 0.05 or 5%.")
    }
    return value
  }

  private func duration(_ text: String?, flag: String) throws -> Duration? {
    guard let text else { return nil }
    guard let value = parseDuration(text), value > .zero else {
      throw ValidationError("\(flag) '\(text)': give \(durationRule(positive: true)).")
    }
    return value
  }

}

/// The notifications being sent once a hunt has ended, for the signal watcher to cut short.
final class PendingNotifications: Sendable {
  private let state = Mutex<Task<[Delivery], Never>?>(nil)

  var task: Task<[Delivery], Never>? {
    get { state.withLock { $0 } }
    set { state.withLock { $0 = newValue } }
  }
}

/// The summary on standard output and the exit code of a finished hunt.
enum Summary {
  static func describe(_ result: StepRecord.Result) -> String {
    switch result {
    case .verdict(let verdict): verdict.rawValue
    case .abort(let why): "abort: \(why)"
    case .stopped: "stopped"
    }
  }

  static func exitStatus(for outcome: HuntOutcome) -> Int32 {
    switch outcome {
    case .culprit: ExitStatus.success.rawValue
    case .noRegression: ExitStatus.noRegression.rawValue
    case .culpritAmong: ExitStatus.onlySkippedLeft.rawValue
    case .contradiction: ExitStatus.contradiction.rawValue
    case .nothingToSearch: ExitStatus.nothingToSearch.rawValue
    case .aborted: ExitStatus.aborted.rawValue
    case .stopped(.deadline): ExitStatus.outOfTime.rawValue
    case .stopped(.signal(let number)): 128 + number
    case .stopped(.leaseLost): ExitStatus.leaseLost.rawValue
    }
  }

  /// Prints the summary; `continuing` is the options `resume` and `reset` need to find this
  /// hunt's state (`--repo`, `--state`), said to a stopped hunt's user.
  static func print(_ report: HuntReport, continuing: [String] = []) {
    var lines = [String]()
    func describe(_ id: ObjectID) -> String {
      guard let info = report.commits[id] else { return id.hex }
      return "\(id.hex) \(info.summary)"
    }
    switch report.outcome {
    case .culprit(let id):
      lines.append("The first bad commit is \(describe(id))")
      if let info = report.commits[id] {
        let date = Date(timeIntervalSince1970: TimeInterval(info.author.time)).formatted(.iso8601)
        lines.append("  Author: \(info.author.name) <\(info.author.email)>, \(date)")
      }
      if let merge = report.culpritMerge, let info = report.commits[merge] {
        let number = pullRequestNumber(inMessage: info.message).map { " (pull request #\($0))" } ?? ""
        lines.append("  Merged by \(merge.short()) \(info.summary)\(number)")
      }
      if !report.culpritFiles.isEmpty {
        lines.append(
          "  Files: " + report.culpritFiles.map { "\($0.path) (\($0.kind.rawValue))" }.joined(separator: ", "))
      }
    case .culpritAmong(let ids) where report.flaky != nil:
      lines.append("No commit reached the confidence asked; the most likely culprits are:")
      lines += ids.map { "  " + describe($0) }
    case .culpritAmong(let ids):
      lines.append("Only skipped commits are left: the first bad commit is one of:")
      lines += ids.map { "  " + describe($0) }
    case .noRegression where report.flaky?.saysNoRegression == true:
      let flaky = report.flaky!
      lines.append(
        "No regression: bad (\(report.bad.short())) fails as often as good: bad failed \(flaky.badEnd.fails) of \(flaky.badEnd.runs) runs, good \(flaky.goodEnd.fails) of \(flaky.goodEnd.runs). Nothing to hunt."
      )
    case .noRegression:
      lines.append("No regression: bad (\(report.bad.short())) tested good. Nothing to hunt.")
    case .contradiction(let conclusion):
      lines.append("The verdicts contradict each other: \(contradiction(conclusion)). No commit is blamed.")
    case .nothingToSearch(let conclusion):
      if conclusion == .noCandidate {
        lines.append("No commit in the range changes the given paths; the regression lies elsewhere.")
      } else if report.endpointsSwapped {
        lines.append(
          "Nothing to search: bad (\(report.bad.short())) is an ancestor of good (\(report.goods.map { $0.short() }.joined(separator: ", "))). Did you swap --good and --bad? Nothing was deployed."
        )
      } else {
        lines.append(
          "Nothing to search: bad (\(report.bad.short())) is good or one of its ancestors. Nothing was deployed.")
      }
    case .aborted(let why):
      lines.append("Hunt aborted: \(why)")
    case .stopped(.deadline):
      lines.append("Stopped: --max-duration ran out after \(stepCount(report.decidedSteps.count)).")
      lines.append(stillOpen(report, continuing: continuing))
    case .stopped(.signal(let number)):
      lines.append("Stopped by \(signalName(number)) after \(stepCount(report.decidedSteps.count)).")
      lines.append(stillOpen(report, continuing: continuing))
    case .stopped(.leaseLost(let why)):
      lines.append(
        "Stopped after \(stepCount(report.decidedSteps.count)): this hunt lost its lease (\(why)). The running steps were stopped and nothing was restored (another hunt may hold the environment now)."
      )
      lines.append(stillOpen(report, continuing: continuing))
    }
    lines += details(of: report)
    let reused = report.steps.filter(\.reused)
    if !reused.isEmpty {
      lines.append(
        "Reused verdicts from earlier hunts: "
          + reused.map { "\($0.commit.short()) \(Summary.describe($0.result))" }.joined(separator: ", "))
    }
    let replayed = report.steps.filter(\.replayed).count
    if replayed > 0 { lines.append("Resumed: \(replayed) verdicts recorded before the interruption were kept.") }
    let seconds = Double(report.duration.components.seconds) + Double(report.duration.components.attoseconds) / 1e18
    let overhead = report.overheadPerStep
    let overheadMilliseconds =
      Double(overhead.components.seconds) * 1000 + Double(overhead.components.attoseconds) / 1e15
    // The hunt's time from its start (before any stop and resume) to its end, as the reports say.
    lines.append(
      "Steps: \(report.decidedSteps.count)\(stepBreakdown(report.decidedSteps)) in \(durationText(seconds)) on \(report.environment.replacingOccurrences(of: ",", with: ", "))"
        + " (\(report.candidateCount) candidates; tool overhead \(String(format: "%.1f", overheadMilliseconds)) ms per step)"
    )
    for (name, reason) in report.retiredEnvironments.sorted(by: { $0.key < $1.key }) {
      lines.append("Environment \(name) was retired during the hunt: \(reason)")
    }
    // A restore deploy that failed or timed out did not restore anything: said as a failure.
    var failures = report.restoreFailures
    for (name, result) in report.restoreResults where !result.succeeded && failures[name] == nil {
      failures[name] = "the deploy of \(report.restoredTo?.short() ?? "the restore target") \(result.termination)"
    }
    for (name, why) in failures.sorted(by: { $0.key < $1.key }) {
      let next =
        report.outcome.isStopped ? "Run bisect-deploy resume to finish the hunt and restore it" : "Redeploy it by hand"
      lines.append("Restore of \(name) FAILED: \(why). \(next).")
    }
    let restoredOK = report.restoreResults.filter { $0.value.succeeded }.sorted { $0.key < $1.key }
    if let restored = report.restoredTo, !restoredOK.isEmpty {
      if restoredOK.count > 1 {
        let names = restoredOK.map(\.key).joined(separator: ", ")
        lines.append("Restored \(restoredOK.count) environments to \(restored.short()) (\(names))")
      } else {
        lines.append("Restored \(restoredOK[0].key) to \(restored.short()) (\(restoredOK[0].value.termination))")
      }
    }
    lines.append("Logs: \(report.logDirectory.path)")
    printOut(lines.joined(separator: "\n"))
  }

  /// What --descend, --flaky, --confirm and --confirm-revert add to the answer.
  static func details(of report: HuntReport) -> [String] {
    var lines = [String]()
    if let descent = report.descent {
      let merge = descent.merge.short()
      let number = report.commits[descent.merge].flatMap { pullRequestNumber(inMessage: $0.message) }
      let named = number.map { "merge \(merge) (pull request #\($0))" } ?? "merge \(merge)"
      if let commit = descent.commit {
        lines.append(
          "  Descent: the first-parent search blamed \(named); among its \(descent.innerCandidates) commits, \(commit.short()) broke it"
        )
      } else {
        lines.append(
          "  Descent: the first-parent search blamed \(named); the merge is the answer: \(descent.note ?? "")")
      }
    }
    if let flaky = report.flaky {
      let spent =
        "\(flaky.testRuns) test run\(flaky.testRuns == 1 ? "" : "s") and \(flaky.deploys) deploy\(flaky.deploys == 1 ? "" : "s")"
      if flaky.saysNoRegression {
        lines.append(
          String(
            format: "  Probability %.4f that there is no regression (asked: %.2f; after %@)", flaky.noRegression,
            flaky.confidence, spent))
        lines.append(String(format: "  Every commit fails about %@ of its runs", rateText(flaky.sameRate)))
      } else {
        var line = String(
          format: "  Probability %.4f that %@ is the culprit (asked: %.2f; %@ after %@)", flaky.probability,
          flaky.culprit.short(), flaky.confidence, flakyStop(flaky.reason), spent)
        if let runnerUp = flaky.runnerUp, let chance = flaky.runnerUpProbability {
          line += String(format: "; runner-up %@ at %.4f", runnerUp.short(), chance)
        }
        lines.append(line)
        lines.append(
          "  Fails \(rateText(flaky.failsAfter)) of runs from \(flaky.culprit.short()) on, \(rateText(flaky.failsBefore)) before (bad failed \(flaky.badEnd.fails) of \(flaky.badEnd.runs) runs, good \(flaky.goodEnd.fails) of \(flaky.goodEnd.runs))"
        )
        if flaky.noRegression >= 0.001 {
          lines.append(String(format: "  Probability %.4f that there is no regression at all", flaky.noRegression))
        }
      }
    }
    if report.dependenciesSearched {
      var culprit: ObjectID?
      if case .culprit(let id) = report.outcome { culprit = id }
      if report.dependencies.isEmpty {
        lines.append("  Dependencies: the culprit changes none of the pinned revisions")
      }
      for finding in report.dependencies { lines.append("  " + dependencyLine(finding, culprit: culprit)) }
    }
    if let confirmation = report.confirmation {
      let model = confirmation.model
      let tally = { (t: Confirmation.Tally, asBad: Bool) -> String in
        let counts = "\(t.commit.short()) failed \(t.bad) of \(t.bad + t.good + t.skipped)"
        guard let model else { return counts }
        let chance = asBad ? model.probabilityBad(t) : 1 - model.probabilityBad(t)
        return counts + String(format: " (%@ with probability %.4f)", asBad ? "bad" : "good", chance)
      }
      let parents = confirmation.parents.map { "parent \(tally($0, false))" }.joined(separator: ", ")
      let judged =
        model.map {
          String(
            format: " by the flaky model (false bad %.3f, false good %.3f; asked: %.2f)", $0.falseBad, $0.falseGood,
            $0.confidence)
        } ?? ""
      lines.append(
        "  Confirmation \(confirmation.holds ? "holds" : "does NOT hold")\(judged): culprit \(tally(confirmation.culprit, true))"
          + (parents.isEmpty ? "" : ", \(parents)"))
    }
    // The revert proof ran last: said last.
    lines += revertLines(of: report)
    return lines
  }

  static func contradiction(_ conclusion: Conclusion) -> String { conclusion.explanation }

  /// Why the probabilistic search stopped (`FlakySummary.reason`), in words.
  static func flakyStop(_ reason: String) -> String {
    switch reason {
    case "confident": "confident"
    case "no-regression": "no regression"
    case "budget-spent": "the budget spent"
    case "nothing-testable": "nothing left to test"
    default: reason
    }
  }

  /// "5 steps", "1 step": a step is one deploy and test of one commit.
  static func stepCount(_ count: Int) -> String { "\(count) step\(count == 1 ? "" : "s")" }

  static func signalName(_ number: Int32) -> String {
    switch number {
    case SIGINT: "Ctrl-C (SIGINT)"
    case SIGTERM: "SIGTERM"
    default: "signal \(number)"
    }
  }

  /// What a stopped hunt's user can do next: it stays open until resumed or reset.
  static func stillOpen(_ report: HuntReport, continuing: [String]) -> String {
    let options = (["--hunt", String(report.huntID)] + continuing).map(shellWord).joined(separator: " ")
    let environment = report.environment.isEmpty ? "its environment" : report.environment
    return "Hunt #\(report.huntID) stays open: continue it with `bisect-deploy resume \(options)`, or end it "
      + "with `bisect-deploy reset \(options)`. Until then a new hunt on \(environment) with other settings "
      + "is refused (exit 75)."
  }

  /// " (2 endpoint checks, 6 bisection, 3 confirmation)": the steps by what they were for,
  /// in the order a hunt runs them; nothing for no step.
  static func stepBreakdown(_ steps: [StepRecord]) -> String {
    var counts = [String: Int]()
    var order = [String]()
    for step in steps {
      let kind: String =
        switch step.purpose {
        case .verifyBad, .verifyGood: "endpoint check"
        case .bisect: "bisection"
        case .manual: "given by hand"
        case .descend: "inside the merge"
        case .confirm: "confirmation"
        case .dependencyCheck, .dependency: "inside a dependency"
        case .revert: "revert proof"
        }
      if counts[kind] == nil { order.append(kind) }
      counts[kind, default: 0] += 1
    }
    guard !order.isEmpty else { return "" }
    let parts = order.map { kind in
      let count = counts[kind] ?? 0
      return kind == "endpoint check" ? "\(count) endpoint check\(count == 1 ? "" : "s")" : "\(count) \(kind)"
    }
    return " (" + parts.joined(separator: ", ") + ")"
  }

  /// "Dependency: the culprit e0bf10f bumps kubespawner dc41368 -> a8d943b; inside
  /// kubespawner, 4180a79 broke it (pull request #35)".
  static func dependencyLine(_ finding: DependencyFinding, culprit: ObjectID?) -> String {
    let who = culprit.map { "the culprit \($0.short())" } ?? "the culprit"
    let change =
      finding.old.map { "bumps \(finding.name) \(shortRevision($0)) -> \(shortRevision(finding.new))" }
      ?? "pins \(finding.name) at \(shortRevision(finding.new))"
    var line = "Dependency: \(who) \(change); "
    switch finding.answer {
    case .found:
      let subject = finding.commit.flatMap { finding.commits[$0]?.summary }.map { " \($0)" } ?? ""
      let named =
        finding.version.map { "version \($0) (\(finding.commit?.short() ?? "?")\(subject))" }
        ?? "\(finding.commit?.short() ?? "?")\(subject)"
      line += "inside \(finding.name), \(named) broke it"
      if let number = pullRequest(of: finding) {
        line += " (pull request #\(number))"
      } else if let merge = finding.merge {
        line += " (merged by \(merge.short()))"
      }
      if let note = finding.note { line += "; \(note)" }
    case .merge:
      let number = pullRequest(of: finding).map { " (pull request #\($0))" } ?? ""
      line +=
        "inside \(finding.name), merge \(finding.commit?.short() ?? "?")\(number) is the answer: \(finding.note ?? "")"
    case .notTheCause:
      line += "not the cause: \(finding.note ?? "")"
    case .notDescended:
      line += "not descended into: \(finding.note ?? "")"
    case .inconclusive:
      line += "the search inside \(finding.name) could not decide: \(finding.note ?? "")"
    }
    return line
  }

  /// The pull request that brought a dependency's culprit in: its merge's, else its own subject's.
  static func pullRequest(of finding: DependencyFinding) -> Int? {
    if let merge = finding.merge, let info = finding.commits[merge],
      let number = pullRequestNumber(inMessage: info.message)
    {
      return number
    }
    if finding.answer == .merge, let commit = finding.commit, let info = finding.commits[commit] {
      return pullRequestNumber(inMessage: info.message)
    }
    return finding.commit.flatMap { finding.commits[$0] }.flatMap { pullRequestNumber(inMessage: $0.message) }
  }

  /// A revision as people read it: a full hash shortened to 7 digits, anything else whole.
  static func shortRevision(_ revision: String) -> String {
    revision.utf8.count == 40 && ObjectID(hex: revision) != nil ? String(revision.prefix(7)) : revision
  }
}
