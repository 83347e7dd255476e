import BisectEngine
import Foundation
import GitKit
import History
import HuntStore
import Runner

/// The state of one hunt while it runs. Owns the repository handle, so it stays on one task;
/// only the deploy and test commands of a round run on child tasks.
struct HuntSession {
  let request: HuntRequest
  let configuration: Configuration
  let stopper: HuntStopper
  let events: @Sendable (HuntEvent) -> Void
  let repository: Repository
  /// Every environment of the hunt, in the order the user named them.
  let environments: [DeployEnvironment]
  /// The environments still given work; one that fails deploys that work elsewhere leaves.
  var active: [DeployEnvironment]
  /// Deploys that failed in an environment and then worked in another, by environment.
  var strikes: [String: Int] = [:]
  var retired: [String: String] = [:]
  /// The name the hunt is stored and locked under: the environment's, or the names joined.
  let huntEnvironment: String
  let bad: ObjectID
  let goods: [ObjectID]
  let logDirectory: URL
  let started = ContinuousClock.now
  /// The range as the user gave it; `bisection` may narrow to a merge's commits (`--descend`).
  let outerGraph: CommitGraph
  var bisection: Bisection
  var steps: [StepRecord] = []
  var commits: [ObjectID: CommitInfo] = [:]
  var original: ObjectID?
  let store: StateStore
  let huntID: Int64
  let fingerprint: String
  /// Verdicts of earlier hunts that may stand in for tests (commit hex to verdict).
  let cachedVerdicts: [String: Verdict]
  /// Steps recorded before the tool was stopped, replayed instead of run again.
  var replay: [StepRow]
  /// The next step number: above every number stored, so a rerun never takes a used one.
  var nextNumber: Int
  var descent: Descent?
  var confirmation: Confirmation?
  var flakySummary: FlakySummary?
  /// In the probabilistic mode: how many commits hold the confidence's share of the
  /// probability, shown as the candidates left.
  var plausibleCount: Int?
  /// Environments whose deploy failed for a commit, so it goes elsewhere next.
  var failedDeploys: [ObjectID: Set<String>] = [:]

  init(request: HuntRequest, stopper: HuntStopper, events: @escaping @Sendable (HuntEvent) -> Void) throws(HuntError) {
    self.request = request
    var configuration = request.configuration
    // The first stage of a descent runs along the first-parent line.
    if configuration.descend { configuration.firstParent = true }
    self.configuration = configuration
    self.stopper = stopper
    self.events = events
    environments = try request.checkedEnvironments()
    active = environments
    huntEnvironment = environments.map(\.name).joined(separator: ",")
    do {
      repository = try Repository(at: request.repositoryPath)
      bad = try repository.resolve(request.bad)
      var goods = [ObjectID]()
      for good in request.goods { goods.append(try repository.resolve(good)) }
      self.goods = goods
      let graph = try repository.commitGraph(
        bad: bad, goods: goods, paths: configuration.paths, firstParent: configuration.firstParent)
      outerGraph = graph
      bisection = Bisection(graph: graph, mergeBases: try repository.mergeBasesToCheck(bad: bad, goods: goods))
    } catch {
      throw .git(error)
    }
    // A restore target that names nothing would leave every environment on the last
    // candidate: refused before anything is deployed.
    if case .revision(let revision) = configuration.restoreTarget {
      do {
        _ = try repository.resolve(revision)
      } catch {
        throw .restoreTarget(revision: revision, error)
      }
    }
    logDirectory = configuration.logFolder(gitDirectory: repository.gitDirectory)
      .appendingPathComponent(Self.huntIdentifier())
    try Configuration.prepareStateFolder(gitDirectory: repository.gitDirectory)
    // Every workspace is checked before anything is deployed: the tool empties only
    // folders it created (docs/safety.md).
    for environment in environments {
      _ = try Workspace.claim(
        configuration.workspaceFolder(gitDirectory: repository.gitDirectory, environment: environment))
    }
    do {
      try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
    } catch {
      throw .workspace(path: logDirectory.path, reason: error.localizedDescription)
    }

    // Durable state: one hunt per environment at a time, resumed when it was stopped.
    fingerprint = configuration.fingerprint(for: environments)
    let store: StateStore
    let huntID: Int64
    do {
      store = try StateStore(
        path: request.statePath ?? StateStore.defaultPath(gitDirectory: repository.gitDirectory))
      let unfinished = try store.unfinishedHunt(environment: huntEnvironment)
      if let unfinished {
        // Refused with the holder named when another live process runs it.
        try store.acquireLock(environment: huntEnvironment, huntID: unfinished.id)
        let same =
          unfinished.bad == bad.hex && unfinished.goods == goods.map(\.hex) && unfinished.paths == configuration.paths
          && unfinished.firstParent == configuration.firstParent && unfinished.configFingerprint == fingerprint
        guard same else {
          try store.releaseLock(environment: huntEnvironment, huntID: unfinished.id)
          throw HuntError.unfinishedHunt(
            id: unfinished.id, environment: huntEnvironment, bad: unfinished.bad, startedAt: unfinished.startedAt)
        }
        huntID = unfinished.id
        do {
          replay = try store.steps(huntID: unfinished.id)
        } catch {
          _ = try? store.releaseLock(environment: huntEnvironment, huntID: unfinished.id)
          throw error
        }
      } else {
        let invocation = StoredInvocation(
          directory: FileManager.default.currentDirectoryPath, arguments: request.arguments)
        huntID = try store.createLockedHunt(
          NewHunt(
            repositoryPath: URL(fileURLWithPath: request.repositoryPath).standardizedFileURL.path, bad: bad.hex,
            goods: goods.map(\.hex), paths: configuration.paths, firstParent: configuration.firstParent,
            environment: huntEnvironment, configFingerprint: fingerprint, commandLine: invocation.encoded)
        ).hunt.id
        replay = []
      }
      do {
        try Self.lockMembers(environments, of: huntEnvironment, huntID: huntID, store: store)
      } catch {
        // Refused: a hunt created just now never ran, so it is closed rather than left for
        // `resume` to pick up.
        if replay.isEmpty, unfinished == nil {
          try? store.finishHunt(id: huntID, outcome: "refused: \(error.errorDescription ?? "an environment is busy")")
        }
        throw error
      }
      do {
        // Verdicts are cached under the environment each step ran in, with the hunt's
        // fingerprint: a hunt over several environments reads every one of them.
        var cached = [String: Verdict]()
        if configuration.reuseVerdicts {
          // In the order named, so that the same store always gives the same answers.
          let joined = huntEnvironment
          for name in [joined] + environments.map(\.name).filter({ $0 != joined }) {
            cached.merge(try store.cachedVerdicts(fingerprint: fingerprint, environment: name)) { first, _ in first }
          }
        }
        cachedVerdicts = cached
      } catch {
        for name in Set([huntEnvironment] + environments.map(\.name)) {
          _ = try? store.releaseLock(environment: name, huntID: huntID)
        }
        throw error
      }
    } catch let error as StoreError {
      throw .store(error)
    } catch let error as HuntError {
      throw error
    } catch {
      throw .workspace(path: logDirectory.path, reason: "\(error)")
    }
    self.store = store
    self.huntID = huntID
    nextNumber = (replay.map(\.number).max() ?? 0) + 1
  }

  /// With several environments the hunt is stored under their joined names; each one is
  /// locked too, so that a hunt on any of them alone is refused while this one runs. When
  /// one is held by another live hunt, the locks taken are given back and nothing runs.
  static func lockMembers(
    _ environments: [DeployEnvironment], of huntEnvironment: String, huntID: Int64, store: StateStore
  ) throws(StoreError) {
    guard environments.count > 1 else { return }
    var taken = [String]()
    for environment in environments {
      do {
        try store.acquireLock(environment: environment.name, huntID: huntID)
        taken.append(environment.name)
      } catch {
        for name in taken + [huntEnvironment] { _ = try? store.releaseLock(environment: name, huntID: huntID) }
        throw error
      }
    }
  }

  func releaseLocks() {
    let names = environments.count > 1 ? environments.map(\.name) + [huntEnvironment] : [huntEnvironment]
    for name in names { _ = try? store.releaseLock(environment: name, huntID: huntID) }
  }

  /// A sortable name for this hunt's log folder: UTC time and process id.
  static func huntIdentifier() -> String {
    let formatter = DateFormatter()
    formatter.dateFormat = "yyyyMMdd-HHmmss"
    formatter.timeZone = TimeZone(identifier: "UTC")
    return "\(formatter.string(from: Date()))-\(ProcessInfo.processInfo.processIdentifier)"
  }

  func workspace(for environment: DeployEnvironment) -> URL {
    configuration.workspaceFolder(gitDirectory: repository.gitDirectory, environment: environment)
  }

  mutating func run() async -> HuntReport {
    let estimate =
      configuration.flaky == nil
      ? bisection.estimatedRounds(parallel: active.count) : Int(ceil(log2(Double(max(2, outerGraph.candidateCount)))))
    var outcome: HuntOutcome
    // An empty range (good == bad, or bad an ancestor of good: swapped ends) or a range with
    // no commit changing the paths is said before anything is deployed.
    if case .concluded(let end) = bisection.nextRound(count: 1), end == .emptyRange || end == .noCandidate {
      outcome = .nothingToSearch(end)
    } else {
      events(.started(candidates: bisection.remainingCount, estimatedSteps: estimate, environment: huntEnvironment))
      outcome = await search()
    }
    if configuration.confirmRuns > 0, case .culprit(let culprit) = outcome {
      if let stopped = await confirm(culprit) { outcome = stopped }
    }
    // Nothing was deployed when there was nothing to search: nothing to restore either.
    var restoreTarget = self.restoreTarget(after: outcome)
    if case .nothingToSearch = outcome, steps.allSatisfy({ $0.deployAttempts.isEmpty }) { restoreTarget = nil }
    if restoreTarget != nil { events(.restoring(restoreTarget.flatMap { try? info($0) })) }
    let restoration = await restoreAll(to: restoreTarget)
    let worst = restoration.worst
    events(.restored(worst))
    if restoration.interrupted { outcome = .stopped(stopper.reason ?? .signal(SIGINT)) }
    // A stopped hunt stays open so that `resume` continues it; the locks go either way.
    if case .stopped = outcome {
    } else {
      try? store.finishHunt(id: huntID, outcome: describe(outcome), endedAt: Date())
    }
    releaseLocks()
    var report = HuntReport(
      outcome: outcome, bad: bad, goods: goods, environment: huntEnvironment,
      candidateCount: outerGraph.candidateCount, steps: steps, duration: ContinuousClock.now - started,
      restoredTo: restoreTarget, restoreResult: worst, logDirectory: logDirectory, commits: commits)
    report.huntID = huntID
    report.environments = environments.map(\.name)
    report.restoreResults = restoration.results
    report.restoreFailures = restoration.failures
    report.retiredEnvironments = retired
    report.descent = descent
    report.confirmation = confirmation
    report.flaky = flakySummary
    if case .nothingToSearch(.emptyRange) = outcome {
      report.endpointsSwapped = goods.contains { good in
        good != bad && ((try? repository.isAncestor(bad, of: good)) ?? false)
      }
    }
    if case .culprit(let culprit) = outcome {
      report.culpritFiles = (try? repository.changedFiles(of: culprit)) ?? []
      report.culpritMerge = descent?.commit != nil ? descent?.merge : mergeBringingIn(culprit)
      if let merge = report.culpritMerge, let facts = try? info(merge) { report.commits[merge] = facts }
    }
    if case .culpritAmong(let ids) = outcome {
      for id in ids { _ = try? info(id) }
      report.commits = commits
    }
    return report
  }

  /// The merge of bad's first-parent line that brought `culprit` in, nil when the culprit
  /// is on that line itself.
  func mergeBringingIn(_ culprit: ObjectID) -> ObjectID? {
    try? repository.firstContaining(culprit, along: outerGraph.firstParentChain().ids)
  }

  /// How an outcome is written in the state database (reports read it back), with what
  /// --descend, --flaky and --confirm add to it.
  func describe(_ outcome: HuntOutcome) -> String {
    var stored = OutcomeText(first: Self.describe(outcome))
    stored.descent = descent.map { OutcomeText.Descent(merge: $0.merge.hex, note: $0.note) }
    stored.probability = flakySummary.map { flaky in
      OutcomeText.Probability(
        probability: flaky.probability, runnerUp: flaky.runnerUp?.hex, runnerUpProbability: flaky.runnerUpProbability,
        reason: flaky.reason, testRuns: flaky.testRuns)
    }
    stored.confirmationHolds = confirmation?.holds
    return stored.text
  }

  static func describe(_ outcome: HuntOutcome) -> String {
    switch outcome {
    case .culprit(let id): "culprit \(id.hex)"
    case .culpritAmong(let ids): "culprit-among \(ids.map(\.hex).joined(separator: " "))"
    case .noRegression: "no-regression"
    case .contradiction(let conclusion): "contradiction: \(conclusion.explanation)"
    case .nothingToSearch(let conclusion): "nothing-to-search: \(conclusion.explanation)"
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
      let value = verdict
      bisection.record(value, for: id)
      var record = StepRecord(number: next.number, commit: id, purpose: .manual, logDirectory: logDirectory)
      record.result = .verdict(value)
      record.replayed = true
      steps.append(record)
    }
  }

  /// Verifies the endpoints, then bisects (by plain or probabilistic search), then descends
  /// into the blamed merge when asked.
  mutating func search() async -> HuntOutcome {
    if let earlyOutcome = await recordOriginal() { return earlyOutcome }
    applyManualVerdicts()
    if configuration.verifyEndpoints {
      // With several environments bad and the goods are checked in one round; with one, bad
      // first, so that a bad that passes ends the hunt before anything else is deployed.
      let goodJobs: [Job] = goods.map { ($0, .verifyGood) }
      let together = active.count > 1
      // With a flaky test, one passing run of bad must not end the hunt: bad is checked by
      // the majority of up to three runs (two that agree are enough).
      var records: [StepRecord]
      if together && configuration.flaky == nil {
        records = await runRound([(bad, .verifyBad)] + goodJobs)
      } else {
        var runs = TestRuns.of(configuration)
        if configuration.flaky != nil { runs = TestRuns(count: max(3, runs.count), rule: .majority, stopEarly: true) }
        records = await runRound([(bad, .verifyBad)], runs: runs)
        if records.allSatisfy({ $0.result == .verdict(.bad) || $0.result == .verdict(.skip) }) {
          records += await runRound(goodJobs)
        }
      }
      for record in records {
        switch record.result {
        case .stopped: return .stopped(stopper.reason ?? .signal(SIGINT))
        case .abort(let why): return .aborted(why)
        case .verdict(.good) where record.purpose == .verifyBad: return .noRegression
        case .verdict(let verdict) where record.purpose == .verifyGood: bisection.record(verdict, for: record.commit)
        case .verdict: break  // a skipped bad stays bad by definition
        }
      }
    }
    if configuration.flaky != nil { return await flakySearch() }
    let outcome = await bisect(purpose: .bisect)
    guard configuration.descend, case .culprit(let merge) = outcome else { return outcome }
    return await descend(into: merge)
  }

  /// Asks the engine for rounds of commits until it concludes.
  mutating func bisect(purpose: StepRecord.Purpose) async -> HuntOutcome {
    while true {
      applyManualVerdicts()
      if let reason = stopper.reason { return .stopped(reason) }
      switch bisection.nextRound(count: active.count) {
      case .concluded(let conclusion):
        return outcome(of: conclusion)
      case .test(let commits):
        let records = await runRound(commits.map { ($0, purpose) })
        // Verdicts go to the engine in the round's order, whatever order they came in, so
        // a resumed hunt asks the same next round.
        for record in records {
          switch record.result {
          case .stopped: return .stopped(stopper.reason ?? .signal(SIGINT))
          case .abort(let why): return .aborted(why)
          case .verdict(let verdict): bisection.record(verdict, for: record.commit)
          }
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

  /// The stored form of a step.
  func row(for record: StepRecord) -> StepRow {
    var verdict: Verdict?
    var note = StepNote(
      movedFrom: record.moved ? record.environment : nil,
      runs: record.runVerdicts)
    switch record.result {
    case .verdict(let value):
      verdict = value
      if let why = record.note { note.others.append(why) }
    case .abort(let why): note.others.append(why)
    case .stopped: note.others.append("stopped")
    }
    let seconds = { (duration: Duration) in
      Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
    let deployTime = record.deployAttempts.reduce(Duration.zero) { $0 + $1.duration }
    let testTime = record.tests.reduce(Duration.zero) { $0 + $1.duration }
    var exitCode: Int32?
    if case .exited(let code) = record.test?.termination { exitCode = code }
    let ended = Date()
    return StepRow(
      huntID: huntID, number: record.number, commit: record.commit.hex,
      environment: record.environment.isEmpty ? huntEnvironment : record.environment,
      purpose: record.purpose, verdict: verdict, exitCode: exitCode,
      deploySeconds: record.deployAttempts.isEmpty ? nil : seconds(deployTime),
      testSeconds: record.tests.isEmpty ? nil : seconds(testTime), logPath: record.logDirectory.path,
      startedAt: ended.addingTimeInterval(-seconds(record.totalTime)), endedAt: ended, reused: record.reused,
      note: note.text(withRuns: record.runVerdicts.count > 1 || record.purpose == .confirm))
  }

  /// A step as it was stored, for replay.
  func record(from stored: StepRow) -> StepRecord {
    var record = StepRecord(
      number: stored.number, commit: ObjectID(hex: stored.commit) ?? bad,
      purpose: stored.purpose,
      logDirectory: URL(fileURLWithPath: stored.logPath ?? logDirectory.path))
    record.environment = stored.environment
    record.replayed = true
    record.reused = stored.reused
    let note = StepNote(stored.note)
    record.moved = note.moved
    record.runVerdicts = note.runs
    record.result =
      stored.verdict.map { .verdict($0) } ?? .abort(note.others.first ?? "aborted")
    return record
  }

  /// The environment of every command: ours, the environment's variables, then the facts of
  /// the step. Commit data reaches commands only here, never in the command text.
  func commandEnvironment(
    for commit: ObjectID, in environment: DeployEnvironment, checkout: URL, step: Int, phase: String
  ) -> [String: String] {
    var variables = stepVariables(
      repository: repository, environment: environment, commit: commit, checkout: checkout, step: step, phase: phase)
    variables["BISECT_BAD"] = bad.hex
    variables["BISECT_GOOD"] = goods.map(\.hex).joined(separator: " ")
    return variables
  }

  /// For `restore: original`, asks the configured command what is deployed now (in the first
  /// environment: every environment goes back to that revision).
  mutating func recordOriginal() async -> HuntOutcome? {
    guard configuration.restoreTarget == .original else { return nil }
    guard let command = configuration.originalCommand else {
      return .aborted("restore: original needs restore.original_command (it prints the deployed revision)")
    }
    let log = logDirectory.appendingPathComponent("original.log")
    let workspace = workspace(for: environments[0])
    let spec = CommandSpec(
      command: command,
      environment: commandEnvironment(for: bad, in: environments[0], checkout: workspace, step: 0, phase: "original"),
      workingDirectory: workspace, logFile: log, timeout: configuration.testTimeout,
      gracePeriod: configuration.gracePeriod, logLimit: configuration.logLimit)
    let result: CommandResult
    do {
      result = try await Runner.run(spec)
    } catch {
      return .aborted("restore.original_command could not run: \(error.localizedDescription)")
    }
    guard result.succeeded else { return .aborted("restore.original_command failed; see \(log.path)") }
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
      // The newest commit of bad's main line (first parents) that tested good and never bad:
      // a state that was really deployed as a whole. Never the culprit or a commit after it
      // (a flaky test may pass it once). Otherwise the good the user named.
      let chain = outerGraph.firstParentChain().ids
      let position = Dictionary(chain.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
      let testedBad = Set(
        steps.filter { !$0.moved && ($0.result == .verdict(.bad) || $0.runVerdicts.contains(.bad)) }.map(\.commit))
      var culprits = [ObjectID]()
      switch outcome {
      case .culprit(let id): culprits = [id]
      case .culpritAmong(let ids): culprits = ids
      default: break
      }
      let safe = steps.lazy.filter { $0.result == .verdict(.good) && !testedBad.contains($0.commit) }.map(\.commit)
        .filter { commit in
          position[commit] != nil
            && !culprits.contains { (try? self.repository.isAncestor($0, of: commit)) ?? true || $0 == commit }
        }
      // Children first: the smallest position is the newest.
      return safe.min { position[$0, default: .max] < position[$1, default: .max] } ?? goods.first
    }
  }

  /// Redeploys `target` in every environment of the hunt at once (the deploy command on a
  /// clean checkout of it). Runs to the end even after Ctrl-C: leaving an environment
  /// half-deployed is what the restore step prevents.
  mutating func restoreAll(to target: ObjectID?) async -> Restoration {
    guard let target, let deploy = configuration.deployCommand else { return Restoration() }
    var restoration = Restoration()
    var jobs = [(String, CommandSpec)]()
    for environment in environments {
      let label = "restore-\(target.short(10))"
      let checkout: URL
      do {
        checkout = try prepareCheckout(target, label: label, in: environment)
      } catch {
        restoration.failures[environment.name] = "cannot export \(target.short()): \(error.localizedDescription)"
        continue
      }
      let log = environments.count == 1 ? "restore.log" : "restore-\(environment.name).log"
      jobs.append(
        (
          environment.name,
          CommandSpec(
            command: deploy,
            environment: commandEnvironment(
              for: target, in: environment, checkout: checkout, step: nextNumber, phase: "restore"),
            workingDirectory: checkout, logFile: logDirectory.appendingPathComponent(log),
            timeout: configuration.effectiveRestoreTimeout, gracePeriod: configuration.gracePeriod,
            logLimit: configuration.logLimit)
        ))
    }
    // The restore runs on a task of its own, so that the hunt's cancellation (the first
    // Ctrl-C) does not reach it; one more stop request than there were at its start (at
    // least two in all) cancels it.
    let restore = Task {
      await withTaskGroup(of: RestoreOutcome.self) { group in
        for (name, spec) in jobs {
          group.addTask {
            // Awaited into a local, never inside the returned value: Swift 6.3.1 -O drops the
            // store of `name` when a `try await` sits inside a returned aggregate
            // (swiftlang/swift#91911).
            let result: Result<CommandResult, any Error>
            do {
              let finished = try await Runner.run(spec, whenCancelled: .stop)
              result = .success(finished)
            } catch {
              result = .failure(error)
            }
            return RestoreOutcome(environment: name, result: result)
          }
        }
        var outcomes = [RestoreOutcome]()
        for await outcome in group { outcomes.append(outcome) }
        return outcomes
      }
    }
    let stopper = stopper
    let forceAt = max(2, stopper.requests + 1)
    let watcher = Task {
      while !Task.isCancelled {
        if stopper.requests >= forceAt {
          restore.cancel()
          return
        }
        try? await Task.sleep(for: .milliseconds(50))
      }
    }
    let outcomes = await restore.value
    watcher.cancel()
    for outcome in outcomes {
      switch outcome.result {
      case .success(let result) where result.termination == .cancelled:
        restoration.results[outcome.environment] = result
        restoration.failures[outcome.environment] = "the restore was stopped by a second stop request"
        restoration.interrupted = true
      case .success(let result): restoration.results[outcome.environment] = result
      case .failure(let error):
        restoration.failures[outcome.environment] = "cannot start the deploy: \(error.localizedDescription)"
      }
    }
    return restoration
  }

  /// One environment's restore, as its child task hands it back.
  struct RestoreOutcome: Sendable {
    var environment: String
    var result: Result<CommandResult, any Error>
  }

  /// How the restore went in each environment.
  struct Restoration {
    var results: [String: CommandResult] = [:]
    /// Environments where the restore deploy could not even start, or was stopped, with why.
    var failures: [String: String] = [:]
    /// A second stop request ended the restore: the hunt stays open, so that `resume`
    /// finishes it (and restores).
    var interrupted = false

    /// The result to show when only one is shown: a failed one first.
    var worst: CommandResult? { results.values.sorted { !$0.succeeded && $1.succeeded }.first }
  }

  /// A fresh clean checkout of `commit` in `environment`'s workspace; the previous
  /// checkouts the tool made there are removed, nothing else.
  ///
  /// - Throws: `HuntError.workspace` when the workspace cannot be emptied or the folder made;
  ///   `GitError` only when the commit's tree itself cannot be checked out.
  func prepareCheckout(_ commit: ObjectID, label: String, in environment: DeployEnvironment) throws -> URL {
    let checkout = try Workspace(folder: workspace(for: environment)).replaceCheckouts(with: label)
    do {
      try FileManager.default.createDirectory(at: checkout, withIntermediateDirectories: true)
    } catch {
      throw HuntError.workspace(path: checkout.path, reason: error.localizedDescription)
    }
    try repository.export(commit, to: checkout)
    return checkout
  }
}

/// Ends the unfinished hunt that `request` describes: every environment is restored (as at
/// the end of a hunt) and the hunt is closed as "reset".
public func resetHunt(
  _ request: HuntRequest, events: @escaping @Sendable (HuntEvent) -> Void
) async throws(HuntError) -> HuntReport {
  var session = try HuntSession(request: request, stopper: HuntStopper(), events: events)
  return await session.reset()
}

extension HuntSession {
  mutating func reset() async -> HuntReport {
    // The recorded verdicts decide where to restore: the newest main-line good.
    for row in replay { steps.append(record(from: row)) }
    replay = []
    let outcome = HuntOutcome.aborted("reset by the user")
    let target = restoreTarget(after: outcome)
    events(.restoring(target.flatMap { try? info($0) }))
    let restoration = await restoreAll(to: target)
    let worst = restoration.worst
    events(.restored(worst))
    try? store.finishHunt(id: huntID, outcome: "reset", endedAt: Date())
    releaseLocks()
    var report = HuntReport(
      outcome: outcome, bad: bad, goods: goods, environment: huntEnvironment,
      candidateCount: outerGraph.candidateCount, steps: steps, duration: ContinuousClock.now - started,
      restoredTo: target, restoreResult: worst, logDirectory: logDirectory, commits: commits)
    report.environments = environments.map(\.name)
    report.restoreResults = restoration.results
    report.restoreFailures = restoration.failures
    return report
  }
}
