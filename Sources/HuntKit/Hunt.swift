import BisectEngine
import Foundation
import GitKit
import History
import HuntStore
import Runner
import Synchronization

/// What the user asked for: the range, where, and how to deploy and test.
public struct HuntRequest: Sendable {
  public var repositoryPath: String
  public var bad: String
  public var goods: [String]
  public var configuration: Configuration
  /// Protected environments the user explicitly allowed (`--allow-protected NAME`).
  public var allowedProtected: Set<String>
  /// The state database; nil for the default inside the repository's git directory.
  public var statePath: String?
  /// The arguments that started the hunt, stored so that `resume` can run it again.
  public var arguments: [String]

  public init(
    repositoryPath: String, bad: String, goods: [String], configuration: Configuration,
    allowedProtected: Set<String> = [], statePath: String? = nil, arguments: [String] = []
  ) {
    self.repositoryPath = repositoryPath
    self.bad = bad
    self.goods = goods
    self.configuration = configuration
    self.allowedProtected = allowedProtected
    self.statePath = statePath
    self.arguments = arguments
  }
}

/// Why a hunt stopped before its end.
public enum StopCause: Sendable, Hashable {
  /// SIGINT or SIGTERM reached the tool; the exit status is 128 + the signal number.
  case signal(Int32)
  /// `--max-duration` ran out.
  case deadline
}

/// Lets another task stop a running hunt and say why; the hunt's task is cancelled too.
public final class HuntStopper: Sendable {
  private let cause = Mutex<StopCause?>(nil)

  public init() {}

  /// Records why the hunt stops (the first cause wins).
  public func stop(_ reason: StopCause) {
    cause.withLock { current in
      if current == nil { current = reason }
    }
  }

  public var reason: StopCause? { cause.withLock { $0 } }
}

/// Where and with which arguments a hunt was started: stored with the hunt, so that
/// `bisect-deploy resume` can start the same hunt again.
public struct StoredInvocation: Codable, Sendable, Hashable {
  public var directory: String
  public var arguments: [String]

  public init(directory: String, arguments: [String]) {
    self.directory = directory
    self.arguments = arguments
  }

  /// JSON text, as the state database keeps it.
  public var encoded: String {
    String(decoding: (try? JSONEncoder().encode(self)) ?? Data(), as: UTF8.self)
  }

  /// Reads the stored form back; nil for a hunt stored by hand or by another version.
  public init?(encoded: String) {
    guard let value = try? JSONDecoder().decode(StoredInvocation.self, from: Data(encoded.utf8)) else { return nil }
    self = value
  }
}

/// One phase of a step.
public enum Phase: String, Sendable, Hashable {
  case exporting, deploying, testing, restoring
}

/// Progress a hunt reports as it goes, for the terminal or for machines.
public enum HuntEvent: Sendable {
  case started(candidates: Int, estimatedSteps: Int, environment: String)
  case stepStarted(number: Int, commit: CommitInfo, remaining: Int, purpose: StepRecord.Purpose)
  case phase(number: Int, Phase)
  case stepFinished(StepRecord)
  case restoring(CommitInfo?)
  case restored(CommandResult?)
}

/// One deploy-and-test of one commit, as it happened.
public struct StepRecord: Sendable {
  public enum Purpose: String, Sendable {
    /// Checking that bad is bad or good is good before bisecting.
    case verifyBad = "verify-bad"
    case verifyGood = "verify-good"
    case bisect
    /// A verdict given by hand with `bisect-deploy good|bad|skip`.
    case manual
  }

  /// What the step concluded.
  public enum Result: Sendable, Hashable {
    case verdict(Verdict)
    /// The test exited above 127, or a deploy failed under `deploy_failure.then: abort`.
    case abort(String)
    /// The step was stopped (signal or deadline) before it could decide.
    case stopped
  }

  public var number: Int
  public var commit: ObjectID
  public var purpose: Purpose
  public var deployAttempts: [CommandResult] = []
  public var test: CommandResult?
  public var result: Result = .stopped
  /// Time spent in the deploy and test commands themselves.
  public var commandTime: Duration = .zero
  /// True when the verdict came from an earlier hunt's verdict cache, not from a test.
  public var reused = false
  /// True when the verdict was recorded before the tool was stopped and is replayed.
  public var replayed = false
  /// Time of the whole step, export and bookkeeping included.
  public var totalTime: Duration = .zero
  public var logDirectory: URL
}

/// How a hunt ended.
public enum HuntOutcome: Sendable, Hashable {
  case culprit(ObjectID)
  case culpritAmong([ObjectID])
  /// `bad` tested good: nothing to find.
  case noRegression
  /// A good endpoint tested bad, or the verdicts contradict each other.
  case contradiction(Conclusion)
  /// Nothing could be blamed (empty range, or no commit changes the paths).
  case nothingToSearch(Conclusion)
  case aborted(String)
  case stopped(StopCause)
}

/// Everything a summary or report needs about a finished hunt.
public struct HuntReport: Sendable {
  public var outcome: HuntOutcome
  public var bad: ObjectID
  public var goods: [ObjectID]
  public var environment: String
  public var candidateCount: Int
  public var steps: [StepRecord]
  public var duration: Duration
  public var restoredTo: ObjectID?
  public var restoreResult: CommandResult?
  public var logDirectory: URL
  /// The commit facts for every commit the report names (culprits, tested commits).
  public var commits: [ObjectID: CommitInfo]
  /// The merge on bad's first-parent line that brought the culprit in (nil when the culprit
  /// is itself on that line, or there is no single culprit).
  public var culpritMerge: ObjectID?
  /// The files the culprit changed against its first parent.
  public var culpritFiles: [FileChange] = []
  /// The hunt's number in the state database (`bisect-deploy report --hunt N`).
  public var huntID: Int64 = 0

  /// The tool's own time per step: everything but the deploy and test commands.
  public var overheadPerStep: Duration {
    let run = steps.filter { !$0.replayed && !$0.reused }
    guard !run.isEmpty else { return .zero }
    let own = run.reduce(Duration.zero) { $0 + ($1.totalTime - $1.commandTime) }
    return own / run.count
  }
}

/// Errors that stop a hunt before it starts.
public enum HuntError: Error, Sendable, LocalizedError {
  case git(GitError)
  case configuration(ConfigurationError)
  case runner(RunnerError)
  case workspace(path: String, reason: String)
  case originalUnknown(command: String, output: String)
  case store(StoreError)
  /// Another hunt on this environment was started and not finished, with other settings.
  case unfinishedHunt(id: Int64, environment: String, bad: String, startedAt: Date)

  public var errorDescription: String? {
    switch self {
    case .git(let error): error.errorDescription
    case .configuration(let error): error.errorDescription
    case .runner(let error): error.errorDescription
    case .workspace(let path, let reason): "Cannot prepare the workspace '\(path)': \(reason)."
    case .originalUnknown(let command, let output):
      "restore.original_command (\(command)) did not print a revision this repository knows (last line: '\(output)')."
    case .store(let error): error.errorDescription
    case .unfinishedHunt(let id, let environment, let bad, let startedAt):
      "Hunt #\(id) on '\(environment)' (bad \(bad.prefix(10)), started \(startedAt.formatted(.iso8601))) was not finished. Continue it with `bisect-deploy resume`, or end it with `bisect-deploy reset`."
    }
  }
}

/// Runs a whole hunt: verify the endpoints, bisect by deploying and testing, restore.
///
/// Cancel the calling task (after `stopper.stop(_:)`) to stop it: the running command's process
/// group is stopped and the restore step still runs.
public func runHunt(
  _ request: HuntRequest, stopper: HuntStopper, events: @escaping @Sendable (HuntEvent) -> Void
) async throws(HuntError) -> HuntReport {
  var hunt = try HuntSession(request: request, stopper: stopper, events: events)
  return await hunt.run()
}

extension HuntRequest {
  /// The environment to deploy to, after the checks every run makes: a test is configured,
  /// the environment exists, and a protected one was allowed by name.
  func checkedEnvironment() throws(HuntError) -> DeployEnvironment {
    guard configuration.testCommand != nil else { throw .configuration(.missingTest) }
    let environment: DeployEnvironment
    do {
      environment = try configuration.environment()
    } catch {
      throw .configuration(error)
    }
    if environment.isProtected && !allowedProtected.contains(environment.name) {
      throw .configuration(.protectedEnvironment(environment.name))
    }
    return environment
  }
}

/// What every command learns about its step, on top of the tool's own environment and the
/// deploy environment's variables. Commit data reaches commands only here, never in the
/// command text.
func stepVariables(
  repository: Repository, environment: DeployEnvironment, commit: ObjectID, checkout: URL, step: Int, phase: String
) -> [String: String] {
  var variables = ProcessInfo.processInfo.environment
  for (key, value) in environment.variables { variables[key] = value }
  variables["BISECT_COMMIT"] = commit.hex
  variables["BISECT_SHORT"] = repository.shortName(commit)
  variables["BISECT_CHECKOUT"] = checkout.path
  variables["BISECT_ENVIRONMENT"] = environment.name
  variables["BISECT_STEP"] = String(step)
  variables["BISECT_PHASE"] = phase
  variables["BISECT_REPO"] =
    URL(fileURLWithPath: repository.workTree ?? repository.gitDirectory).standardizedFileURL.path
  return variables
}

/// Deploys `record.commit` from `checkout` (with retries) and runs the smoke test, filling in
/// the record's attempts, test, command time and result. Shared by hunts and nightly runs.
func deployAndTest(
  _ record: inout StepRecord, checkout: URL, environment: [String: String], configuration: Configuration,
  stopper: HuntStopper, events: @Sendable (HuntEvent) -> Void
) async {
  let number = record.number
  let commit = record.commit
  if let deploy = configuration.deployCommand {
    events(.phase(number: number, .deploying))
    var deployed = false
    for attempt in 0...configuration.deployRetries {
      let spec = CommandSpec(
        command: deploy, environment: environment, workingDirectory: checkout,
        logFile: record.logDirectory.appendingPathComponent("deploy\(attempt == 0 ? "" : "-retry\(attempt)").log"),
        timeout: configuration.deployTimeout, gracePeriod: configuration.gracePeriod)
      guard let result = try? await Runner.run(spec) else {
        record.result = .abort("cannot start the deploy command")
        return
      }
      record.deployAttempts.append(result)
      record.commandTime += result.duration
      if result.termination == .cancelled || stopper.reason != nil {
        record.result = .stopped
        return
      }
      if result.succeeded {
        deployed = true
        break
      }
    }
    if !deployed {
      switch configuration.deployFailure {
      case .skip: record.result = .verdict(.skip)
      case .abort:
        record.result = .abort("the deploy of \(commit.short()) failed \(record.deployAttempts.count) time(s)")
      }
      return
    }
  }
  events(.phase(number: number, .testing))
  let spec = CommandSpec(
    command: configuration.testCommand ?? "false", environment: environment, workingDirectory: checkout,
    logFile: record.logDirectory.appendingPathComponent("test.log"),
    timeout: configuration.testTimeout, gracePeriod: configuration.gracePeriod)
  guard let result = try? await Runner.run(spec) else {
    record.result = .abort("cannot start the test command")
    return
  }
  record.test = result
  record.commandTime += result.duration
  if result.termination == .cancelled || stopper.reason != nil {
    record.result = .stopped
    return
  }
  switch TestVerdict(result.termination, timeoutPolicy: configuration.testTimeoutPolicy) {
  case .good: record.result = .verdict(.good)
  case .bad: record.result = .verdict(.bad)
  case .skip: record.result = .verdict(.skip)
  case .abort:
    record.result = .abort("the test of \(commit.short()) ended with \(result.termination) (above 127 aborts)")
  }
}

/// The state of one hunt while it runs. Owns the repository handle, so it stays on one task.
struct HuntSession {
  let request: HuntRequest
  let configuration: Configuration
  let stopper: HuntStopper
  let events: @Sendable (HuntEvent) -> Void
  let repository: Repository
  let environment: DeployEnvironment
  let bad: ObjectID
  let goods: [ObjectID]
  let workspace: URL
  let logDirectory: URL
  let started = ContinuousClock.now
  var bisection: Bisection
  var steps: [StepRecord] = []
  var commits: [ObjectID: CommitInfo] = [:]
  var original: ObjectID?
  let store: StateStore
  let huntID: Int64
  let fingerprint: String
  /// Verdicts of earlier hunts that may stand in for tests (commit hex to verdict).
  let cachedVerdicts: [String: StepVerdict]
  /// Steps recorded before the tool was stopped, replayed in order instead of run again.
  var replay: [StepRow]

  init(request: HuntRequest, stopper: HuntStopper, events: @escaping @Sendable (HuntEvent) -> Void) throws(HuntError) {
    self.request = request
    self.configuration = request.configuration
    self.stopper = stopper
    self.events = events
    environment = try request.checkedEnvironment()
    do {
      repository = try Repository(at: request.repositoryPath)
      bad = try repository.resolve(request.bad)
      var goods = [ObjectID]()
      for good in request.goods { goods.append(try repository.resolve(good)) }
      self.goods = goods
      let graph = try repository.commitGraph(
        bad: bad, goods: goods, paths: configuration.paths, firstParent: configuration.firstParent)
      bisection = Bisection(graph: graph, mergeBases: try repository.mergeBasesToCheck(bad: bad, goods: goods))
    } catch {
      throw .git(error)
    }
    workspace = configuration.workspaceFolder(gitDirectory: repository.gitDirectory, environment: environment)
    logDirectory = configuration.logFolder(gitDirectory: repository.gitDirectory)
      .appendingPathComponent(Self.huntIdentifier())
    do {
      try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
      try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
    } catch {
      throw .workspace(path: workspace.path, reason: error.localizedDescription)
    }

    // Durable state: one hunt per environment at a time, resumed when it was stopped.
    fingerprint = configuration.fingerprint(for: environment)
    do {
      store = try StateStore(
        path: request.statePath ?? StateStore.defaultPath(gitDirectory: repository.gitDirectory))
      let unfinished = try store.unfinishedHunt(environment: environment.name)
      if let unfinished {
        // Refused with the holder named when another live process runs it.
        try store.acquireLock(environment: environment.name, huntID: unfinished.id)
        let same =
          unfinished.bad == bad.hex && unfinished.goods == goods.map(\.hex) && unfinished.paths == configuration.paths
          && unfinished.firstParent == configuration.firstParent && unfinished.configFingerprint == fingerprint
        guard same else {
          try store.releaseLock(environment: environment.name, huntID: unfinished.id)
          throw HuntError.unfinishedHunt(
            id: unfinished.id, environment: environment.name, bad: unfinished.bad, startedAt: unfinished.startedAt)
        }
        huntID = unfinished.id
        replay = try store.steps(huntID: unfinished.id)
      } else {
        let invocation = StoredInvocation(
          directory: FileManager.default.currentDirectoryPath, arguments: request.arguments)
        huntID = try store.createLockedHunt(
          NewHunt(
            repositoryPath: URL(fileURLWithPath: request.repositoryPath).standardizedFileURL.path, bad: bad.hex,
            goods: goods.map(\.hex), paths: configuration.paths, firstParent: configuration.firstParent,
            environment: environment.name, configFingerprint: fingerprint, commandLine: invocation.encoded)
        ).hunt.id
        replay = []
      }
      cachedVerdicts =
        configuration.reuseVerdicts
        ? try store.cachedVerdicts(fingerprint: fingerprint, environment: environment.name) : [:]
    } catch let error as StoreError {
      throw .store(error)
    } catch let error as HuntError {
      throw error
    } catch {
      throw .workspace(path: workspace.path, reason: "\(error)")
    }
  }

  /// A sortable name for this hunt's log folder: UTC time and process id.
  static func huntIdentifier() -> String {
    let formatter = DateFormatter()
    formatter.dateFormat = "yyyyMMdd-HHmmss"
    formatter.timeZone = TimeZone(identifier: "UTC")
    return "\(formatter.string(from: Date()))-\(ProcessInfo.processInfo.processIdentifier)"
  }

  mutating func run() async -> HuntReport {
    events(
      .started(
        candidates: bisection.remainingCount, estimatedSteps: bisection.estimatedRounds(),
        environment: environment.name))
    let outcome = await search()
    let restoreTarget = self.restoreTarget(after: outcome)
    events(.restoring(restoreTarget.flatMap { try? info($0) }))
    let restoreResult = await restore(to: restoreTarget)
    events(.restored(restoreResult))
    // A stopped hunt stays open so that `resume` continues it; the lock goes either way.
    if case .stopped = outcome {
    } else {
      try? store.finishHunt(id: huntID, outcome: Self.describe(outcome), endedAt: Date())
    }
    _ = try? store.releaseLock(environment: environment.name, huntID: huntID)
    var report = HuntReport(
      outcome: outcome, bad: bad, goods: goods, environment: environment.name,
      candidateCount: bisection.graph.candidateCount, steps: steps, duration: ContinuousClock.now - started,
      restoredTo: restoreTarget, restoreResult: restoreResult, logDirectory: logDirectory, commits: commits)
    report.huntID = huntID
    if case .culprit(let culprit) = outcome {
      report.culpritFiles = (try? repository.changedFiles(of: culprit)) ?? []
      report.culpritMerge = mergeBringingIn(culprit)
      if let merge = report.culpritMerge, let facts = try? info(merge) { report.commits[merge] = facts }
    }
    return report
  }

  /// The merge of bad's first-parent line that brought `culprit` in, nil when the culprit
  /// is on that line itself.
  func mergeBringingIn(_ culprit: ObjectID) -> ObjectID? {
    try? repository.firstContaining(culprit, along: bisection.graph.firstParentChain().ids)
  }

  /// How an outcome is written in the state database.
  static func describe(_ outcome: HuntOutcome) -> String {
    switch outcome {
    case .culprit(let id): "culprit \(id.hex)"
    case .culpritAmong(let ids): "culprit-among \(ids.map(\.hex).joined(separator: " "))"
    case .noRegression: "no-regression"
    case .contradiction(let conclusion): "contradiction \(conclusion)"
    case .nothingToSearch(let conclusion): "nothing-to-search \(conclusion)"
    case .aborted(let why): "aborted: \(why)"
    case .stopped(let cause): "stopped \(cause)"
    }
  }

  /// Applies verdicts given by hand (`bisect-deploy good|bad|skip`) that come next in the
  /// stored order.
  mutating func applyManualVerdicts() {
    while let next = replay.first, next.purpose == .manual {
      replay.removeFirst()
      guard let verdict = next.verdict, let id = ObjectID(hex: next.commit) else { continue }
      bisection.record(Verdict(rawValue: verdict.rawValue) ?? .skip, for: id)
      var record = StepRecord(
        number: next.number, commit: id, purpose: .manual, logDirectory: logDirectory)
      record.result = .verdict(Verdict(rawValue: verdict.rawValue) ?? .skip)
      record.replayed = true
      steps.append(record)
    }
  }

  /// Verifies the endpoints, then asks the engine for commits until it concludes.
  mutating func search() async -> HuntOutcome {
    if let earlyOutcome = await recordOriginal() { return earlyOutcome }
    applyManualVerdicts()
    if configuration.verifyEndpoints {
      let badStep = await step(bad, purpose: .verifyBad)
      switch badStep.result {
      case .stopped: return .stopped(stopper.reason ?? .signal(SIGINT))
      case .abort(let why): return .aborted(why)
      case .verdict(.good): return .noRegression
      case .verdict(.bad), .verdict(.skip): break  // a skipped bad stays bad by definition
      }
      for good in goods {
        let goodStep = await step(good, purpose: .verifyGood)
        switch goodStep.result {
        case .stopped: return .stopped(stopper.reason ?? .signal(SIGINT))
        case .abort(let why): return .aborted(why)
        case .verdict(let verdict): bisection.record(verdict, for: good)
        }
      }
    }
    while true {
      applyManualVerdicts()
      if let reason = stopper.reason { return .stopped(reason) }
      switch bisection.next() {
      case .concluded(let conclusion):
        return outcome(of: conclusion)
      case .test(let commit):
        let record = await step(commit, purpose: .bisect)
        switch record.result {
        case .stopped: return .stopped(stopper.reason ?? .signal(SIGINT))
        case .abort(let why): return .aborted(why)
        case .verdict(let verdict): bisection.record(verdict, for: commit)
        }
      }
    }
  }

  func outcome(of conclusion: Conclusion) -> HuntOutcome {
    switch conclusion {
    case .culprit(let id): .culprit(id)
    case .culpritAmong(let ids): .culpritAmong(ids)
    case .emptyRange, .noCandidate: .nothingToSearch(conclusion)
    case .badFoundGood, .goodFoundBad, .fixedBetween: .contradiction(conclusion)
    }
  }

  /// The facts of a commit, remembered for the report.
  mutating func info(_ id: ObjectID) throws -> CommitInfo {
    if let known = commits[id] { return known }
    let facts = try repository.commit(id)
    commits[id] = facts
    return facts
  }

  /// Exports, deploys (with retries) and tests one commit.
  mutating func step(_ commit: ObjectID, purpose: StepRecord.Purpose) async -> StepRecord {
    let number = steps.count + 1
    let stepStarted = ContinuousClock.now
    let label =
      "step-" + String(repeating: "0", count: max(0, 3 - String(number).count)) + "\(number)-\(commit.short(10))"
    var record = StepRecord(
      number: number, commit: commit, purpose: purpose,
      logDirectory: logDirectory.appendingPathComponent(label))
    // A verdict recorded before the tool was stopped is not tested again.
    if let stored = replay.first, stored.commit == commit.hex, stored.purpose.rawValue == purpose.rawValue {
      replay.removeFirst()
      record.number = stored.number
      record.replayed = true
      record.result =
        stored.verdict.map { .verdict(Verdict(rawValue: $0.rawValue) ?? .skip) } ?? .abort(stored.note ?? "aborted")
      steps.append(record)
      events(.stepFinished(record))
      return record
    }
    if let facts = try? info(commit) {
      events(.stepStarted(number: number, commit: facts, remaining: bisection.remainingCount, purpose: purpose))
    }
    if purpose == .bisect, let cached = cachedVerdicts[commit.hex], let verdict = Verdict(rawValue: cached.rawValue) {
      record.reused = true
      record.result = .verdict(verdict)
      return finish(record, started: stepStarted)
    }
    events(.phase(number: number, .exporting))
    let checkout: URL
    do {
      checkout = try prepareCheckout(commit, label: label)
      try FileManager.default.createDirectory(at: record.logDirectory, withIntermediateDirectories: true)
    } catch {
      record.result = .abort("cannot export \(commit.hex): \(error.localizedDescription)")
      return finish(record, started: stepStarted)
    }
    let environment = commandEnvironment(for: commit, checkout: checkout, step: number, phase: purpose.rawValue)

    await deployAndTest(
      &record, checkout: checkout, environment: environment, configuration: configuration, stopper: stopper,
      events: events)
    return finish(record, started: stepStarted)
  }

  mutating func finish(_ record: StepRecord, started: ContinuousClock.Instant) -> StepRecord {
    var record = record
    record.totalTime = ContinuousClock.now - started
    // Durable before the next step starts; a stopped step is not recorded (it runs again).
    if record.result != .stopped {
      do {
        try store.recordStep(row(for: record))
      } catch {
        record.result = .abort("cannot save the verdict in the state database: \(error.localizedDescription)")
      }
    }
    steps.append(record)
    events(.stepFinished(record))
    return record
  }

  /// The stored form of a step.
  func row(for record: StepRecord) -> StepRow {
    var verdict: StepVerdict?
    var note: String?
    switch record.result {
    case .verdict(let value): verdict = StepVerdict(rawValue: value.rawValue)
    case .abort(let why): note = why
    case .stopped: note = "stopped"
    }
    let seconds = { (duration: Duration) in
      Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
    let deployTime = record.deployAttempts.reduce(Duration.zero) { $0 + $1.duration }
    var exitCode: Int32?
    if case .exited(let code) = record.test?.termination { exitCode = code }
    let ended = Date()
    return StepRow(
      huntID: huntID, number: record.number, commit: record.commit.hex, environment: environment.name,
      purpose: StepPurpose(rawValue: record.purpose.rawValue) ?? .bisect, verdict: verdict, exitCode: exitCode,
      deploySeconds: record.deployAttempts.isEmpty ? nil : seconds(deployTime),
      testSeconds: record.test.map { seconds($0.duration) }, logPath: record.logDirectory.path,
      startedAt: ended.addingTimeInterval(-seconds(record.totalTime)), endedAt: ended, reused: record.reused,
      note: note)
  }

  /// A fresh clean checkout of `commit` for this environment; the previous one is removed.
  func prepareCheckout(_ commit: ObjectID, label: String) throws -> URL {
    let files = FileManager.default
    for old in (try? files.contentsOfDirectory(atPath: workspace.path)) ?? [] {
      try files.removeItem(at: workspace.appendingPathComponent(old))
    }
    let checkout = workspace.appendingPathComponent(label)
    try repository.export(commit, to: checkout)
    return checkout
  }

  /// The environment of every command: ours, the environment's variables, then the facts of
  /// the step. Commit data reaches commands only here, never in the command text.
  func commandEnvironment(for commit: ObjectID, checkout: URL, step: Int, phase: String) -> [String: String] {
    var variables = stepVariables(
      repository: repository, environment: environment, commit: commit, checkout: checkout, step: step, phase: phase)
    variables["BISECT_BAD"] = bad.hex
    variables["BISECT_GOOD"] = goods.map(\.hex).joined(separator: " ")
    return variables
  }

  /// For `restore: original`, asks the configured command what is deployed now.
  mutating func recordOriginal() async -> HuntOutcome? {
    guard configuration.restoreTarget == .original else { return nil }
    guard let command = configuration.originalCommand else {
      return .aborted("restore: original needs restore.original_command (it prints the deployed revision)")
    }
    let log = logDirectory.appendingPathComponent("original.log")
    let spec = CommandSpec(
      command: command, environment: commandEnvironment(for: bad, checkout: workspace, step: 0, phase: "original"),
      workingDirectory: workspace, logFile: log, timeout: configuration.testTimeout,
      gracePeriod: configuration.gracePeriod)
    guard let result = try? await Runner.run(spec), result.succeeded else {
      return .aborted("restore.original_command failed; see \(log.path)")
    }
    let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    let printed =
      text.split(separator: "\n").map(String.init)
      .filter { !$0.hasPrefix("[bisect-deploy ") && !$0.trimmingCharacters(in: .whitespaces).isEmpty }
      .last?.trimmingCharacters(in: .whitespaces) ?? ""
    guard let id = try? repository.resolve(printed) else {
      return .aborted(HuntError.originalUnknown(command: command, output: printed).errorDescription ?? "")
    }
    original = id
    return nil
  }

  /// Where to restore: by default the newest commit known good on the main line.
  func restoreTarget(after outcome: HuntOutcome) -> ObjectID? {
    switch configuration.restoreTarget {
    case .none: return nil
    case .original: return original
    case .revision(let revision): return try? repository.resolve(revision)
    case .lastGood:
      // The newest commit that tested good on bad's main line (first parents): a state that
      // was really deployed as a whole. Otherwise the good the user named.
      let graph = bisection.graph
      let mainLine = Set(graph.firstParentChain().ids)
      let testedGood = steps.filter { $0.result == .verdict(.good) && mainLine.contains($0.commit) }.map(\.commit)
      let newest = testedGood.max { left, right in
        (graph.number(of: left).map { graph.commitTimes[$0] } ?? 0)
          < (graph.number(of: right).map { graph.commitTimes[$0] } ?? 0)
      }
      return newest ?? goods.first
    }
  }

  /// Redeploys `target` (the deploy command on a clean checkout of it). Runs to the end even
  /// after Ctrl-C: leaving an environment half-deployed is what the restore step prevents.
  mutating func restore(to target: ObjectID?) async -> CommandResult? {
    guard let target, let deploy = configuration.deployCommand else { return nil }
    let label = "restore-\(target.short(10))"
    guard let checkout = try? prepareCheckout(target, label: label) else { return nil }
    let spec = CommandSpec(
      command: deploy,
      environment: commandEnvironment(for: target, checkout: checkout, step: steps.count + 1, phase: "restore"),
      workingDirectory: checkout, logFile: logDirectory.appendingPathComponent("restore.log"),
      timeout: configuration.restoreTimeout, gracePeriod: configuration.gracePeriod)
    return try? await Runner.run(spec, whenCancelled: .finish)
  }
}

/// Ends the unfinished hunt that `request` describes: the environment is restored (as at the
/// end of a hunt) and the hunt is closed as "reset".
public func resetHunt(
  _ request: HuntRequest, events: @escaping @Sendable (HuntEvent) -> Void
) async throws(HuntError) -> HuntReport {
  var session = try HuntSession(request: request, stopper: HuntStopper(), events: events)
  return await session.reset()
}

extension HuntSession {
  mutating func reset() async -> HuntReport {
    // The recorded verdicts decide where to restore: the newest main-line good.
    for row in replay {
      guard let id = ObjectID(hex: row.commit) else { continue }
      var record = StepRecord(
        number: row.number, commit: id, purpose: StepRecord.Purpose(rawValue: row.purpose.rawValue) ?? .bisect,
        logDirectory: logDirectory)
      record.result = row.verdict.map { .verdict(Verdict(rawValue: $0.rawValue) ?? .skip) } ?? .abort(row.note ?? "")
      record.replayed = true
      steps.append(record)
    }
    replay = []
    let outcome = HuntOutcome.aborted("reset by the user")
    let target = restoreTarget(after: outcome)
    events(.restoring(target.flatMap { try? info($0) }))
    let result = await restore(to: target)
    events(.restored(result))
    try? store.finishHunt(id: huntID, outcome: "reset", endedAt: Date())
    _ = try? store.releaseLock(environment: environment.name, huntID: huntID)
    return HuntReport(
      outcome: outcome, bad: bad, goods: goods, environment: environment.name,
      candidateCount: bisection.graph.candidateCount, steps: steps, duration: ContinuousClock.now - started,
      restoredTo: target, restoreResult: result, logDirectory: logDirectory, commits: commits)
  }
}
