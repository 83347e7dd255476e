import BisectEngine
import Foundation
import GitKit
import History
import HuntStore
import Runner

/// Runs one command: `Runner.run` in the tool. A parameter of the session, so that the
/// hunt's core is tested in-process (wrapping the real runner to watch what it is asked).
package typealias CommandRunner =
  @Sendable (CommandSpec, CancellationResponse) async throws(RunnerError) -> CommandResult

/// What a hunt works on, resolved before it starts: every git, file-system and
/// configuration check the hunt needs is made here, before anything is deployed.
package struct HuntSetup {
  package let request: HuntRequest
  /// The request's configuration; `--descend` runs its first stage along first parents.
  package let configuration: Configuration
  /// The repository handle: it stays on the hunt's task.
  package let repository: Repository
  package let bad: ObjectID
  package let goods: [ObjectID]
  /// The range as the user gave it (a descent narrows the bisection, not this).
  package let graph: CommitGraph
  /// Merge bases of bad and goods that are not goods' ancestors: checked first, as git does.
  package let mergeBases: [ObjectID]
  package let environments: [DeployEnvironment]
  /// This hunt's log folder, created.
  package let logDirectory: URL
  /// What decides a verdict (deploy, test, environments): verdicts are reused between equal ones.
  package let fingerprint: String
  /// `--descend-deps`: each dependency's history, by name (opened, cloned or fetched here).
  package var dependencyHistories: [String: Repository] = [:]

  /// Resolves the request: the environments (protected ones refused), the repository, the
  /// ends and the range; the restore target; the tool's folder (0700), every workspace
  /// (refused when the tool did not create it) and the log folder.
  package static func prepare(_ request: HuntRequest) throws(HuntError) -> HuntSetup {
    var configuration = request.configuration
    // The first stage of a descent runs along the first-parent line.
    if configuration.descend { configuration.firstParent = true }
    let environments = try request.checkedEnvironments()
    let repository: Repository
    let bad: ObjectID
    var goods = [ObjectID]()
    let graph: CommitGraph
    let mergeBases: [ObjectID]
    do {
      repository = try Repository(at: request.repositoryPath)
      bad = try repository.resolve(request.bad)
      goods = try resolveGoods(request.goods, in: repository)
      graph = try repository.commitGraph(
        bad: bad, goods: goods, paths: configuration.paths, firstParent: configuration.firstParent)
      mergeBases = try repository.mergeBasesToCheck(in: graph)
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
    try Configuration.prepareStateFolder(gitDirectory: repository.gitDirectory)
    // Every workspace is checked before anything is deployed: the tool empties only
    // folders it created (docs/safety.md). A pool's are checked once leased (`claimWorkspaces`):
    // other hunts may be using the rest.
    if configuration.environmentPool.isEmpty {
      try claimWorkspaces(environments, configuration: configuration, repository: repository)
    }
    let logDirectory = configuration.logFolder(gitDirectory: repository.gitDirectory)
      .appendingPathComponent(huntIdentifier())
    do {
      try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
    } catch {
      throw .workspace(path: logDirectory.path, reason: error.localizedDescription)
    }
    var setup = HuntSetup(
      request: request, configuration: configuration, repository: repository, bad: bad, goods: goods, graph: graph,
      mergeBases: mergeBases, environments: environments, logDirectory: logDirectory,
      fingerprint: configuration.fingerprint(for: environments))
    // A dependency's history is needed only after the culprit, but checked (and cloned) now.
    if configuration.descendDependencies {
      setup.dependencyHistories = try DependencyHistory.openAll(configuration, gitDirectory: repository.gitDirectory)
    }
    return setup
  }

  /// Checks (or creates) the workspace of each environment: refused when the tool did not
  /// create it.
  package static func claimWorkspaces(
    _ environments: [DeployEnvironment], configuration: Configuration, repository: Repository
  )
    throws(HuntError)
  {
    for environment in environments {
      _ = try Workspace.claim(
        configuration.workspaceFolder(gitDirectory: repository.gitDirectory, environment: environment),
        inToolFolder: configuration.workspace == nil)
    }
  }

  /// How the journal knows this hunt (a stopped one is resumed only when all of it is equal).
  package var identity: HuntIdentity {
    HuntIdentity(
      repositoryPath: URL(fileURLWithPath: request.repositoryPath).standardizedFileURL.path, bad: bad, goods: goods,
      paths: configuration.paths, firstParent: configuration.firstParent, fingerprint: fingerprint,
      environments: environments.map(\.name), pool: !configuration.environmentPool.isEmpty,
      invocation: StoredInvocation(directory: FileManager.default.currentDirectoryPath, arguments: request.arguments))
  }

  /// Where the state is: the request's, else the file inside the repository's git directory.
  package var stateLocation: StateLocation {
    request.state ?? .file(SQLiteStore.defaultPath(gitDirectory: repository.gitDirectory))
  }

  /// A sortable name for this hunt's log folder: UTC time and process id.
  package static func huntIdentifier() -> String {
    let formatter = DateFormatter()
    formatter.dateFormat = "yyyyMMdd-HHmmss"
    formatter.timeZone = TimeZone(identifier: "UTC")
    return "\(formatter.string(from: Date()))-\(ProcessInfo.processInfo.processIdentifier)"
  }
}

/// One hunt while it runs. Owns the repository handle (through `setup`), so it stays on one
/// task; only the deploy and test commands of a round run on child tasks. Its parts own
/// their state: the pool allocates environments, the journal makes steps durable, the
/// findings become the report. `init` only assembles them; `open` does the work first.
package struct HuntSession {
  package let setup: HuntSetup
  package let stopper: HuntStopper
  package let events: @Sendable (HuntEvent) -> Void
  package let runCommand: CommandRunner
  package let journal: any Journal
  package var pool: EnvironmentPool
  /// Steps stored before the tool was stopped and not replayed yet, in the stored order.
  package var replay: [StepRow]
  /// The next step number: above every number stored, so a rerun never takes a used one.
  package var nextNumber: Int
  package var bisection: Bisection
  package var steps: [StepRecord] = []
  package var findings = Findings()
  /// `--descend-deps`: the dependency the running steps pin, while the hunt is inside one.
  package var dependencyStage: DependencyStage?

  /// The store behind the journal and the leases, closed when the hunt ends.
  package let store: any StateStore

  package init(
    setup: HuntSetup, store: any StateStore, journal: any Journal, pool: EnvironmentPool, stopper: HuntStopper,
    events: @escaping @Sendable (HuntEvent) -> Void, runCommand: @escaping CommandRunner
  ) {
    self.setup = setup
    self.store = store
    self.journal = journal
    self.stopper = stopper
    self.events = events
    self.runCommand = runCommand
    self.pool = pool
    replay = journal.recorded
    nextNumber = (journal.recorded.map(\.number).max() ?? 0) + 1
    bisection = Bisection(graph: setup.graph, mergeBases: setup.mergeBases)
  }

  /// Why the session opens: to hunt, or to end an unfinished hunt (`reset`).
  package enum Purpose {
    case hunt
    case reset
  }

  /// Prepares the request, opens its journal in the state store and leases its environments
  /// (waiting for them when asked): the hunt, ready to run. A hunt this created and that
  /// could not get its environments is closed as refused, not left for `resume`.
  package static func open(
    _ request: HuntRequest, for purpose: Purpose = .hunt, stopper: HuntStopper,
    events: @escaping @Sendable (HuntEvent) -> Void, openStore: StoreOpener = openFileStore,
    runCommand: @escaping CommandRunner = { spec, response throws(RunnerError) in
      try await Runner.run(spec, whenCancelled: response)
    }
  ) async throws(HuntError) -> HuntSession {
    let setup = try HuntSetup.prepare(request)
    let store: any StateStore
    do {
      // No write outlives the lease: a store that cannot be reached for that long has lost it.
      store = try await openStore(setup.stateLocation, setup.configuration.leaseDuration)
    } catch {
      throw .store(error)
    }
    // This process's claim on leases: the hunt's own, then its environments'.
    let claim = LeaseClaim.current(huntID: 0, token: UUID().uuidString, duration: setup.configuration.leaseDuration)
    do throws(HuntError) {
      let journal = try await StoreJournal.open(
        store: store, identity: setup.identity, claim: claim, resumeID: request.resumeHuntID,
        reuseVerdicts: setup.configuration.reuseVerdicts, requireSameSettings: purpose == .hunt)
      let pool: EnvironmentPool
      do throws(HuntError) {
        pool = try await EnvironmentPool.claim(
          environmentRequest(setup, journal: journal, purpose: purpose), for: claim.forHunt(journal.huntID),
          store: store, configuration: setup.configuration, stopper: stopper, events: events)
        if !setup.configuration.environmentPool.isEmpty {
          do throws(HuntError) {
            try HuntSetup.claimWorkspaces(pool.all, configuration: setup.configuration, repository: setup.repository)
          } catch {
            await pool.release()
            throw error
          }
        }
      } catch {
        // A hunt whose own lease was taken over while it waited is another process's now:
        // neither closed nor given back from here.
        if case .stoppedWaiting(.leaseLost) = error { throw error }
        if journal.created {
          // Refused: a hunt created just now never ran, so it is closed rather than left open.
          try? await store.finishHunt(id: journal.huntID, outcome: "refused: \(error.errorDescription ?? "\(error)")")
        }
        try? await store.releaseLeases([huntLeaseName(journal.huntID)], for: claim)
        throw error
      }
      return HuntSession(
        setup: setup, store: store, journal: journal, pool: pool, stopper: stopper, events: events,
        runCommand: runCommand)
    } catch {
      await store.close()
      throw error
    }
  }

  /// What to lease: the named environments, free ones of the pool, or to reset a pool's hunt
  /// the environments its steps deployed to.
  private static func environmentRequest(_ setup: HuntSetup, journal: StoreJournal, purpose: Purpose)
    -> EnvironmentPool.Request
  {
    let configuration = setup.configuration
    guard !configuration.environmentPool.isEmpty else { return .named(setup.environments) }
    if purpose == .reset {
      let used = Set(journal.recorded.map(\.environment))
      let deployed = setup.environments.filter { used.contains($0.name) }
      return deployed.isEmpty ? .pool(setup.environments, wants: 1) : .named(deployed)
    }
    return .pool(setup.environments, wants: configuration.parallel)
  }

  // The setup's values under the names the hunt's code uses.
  package var configuration: Configuration { setup.configuration }
  package var repository: Repository { setup.repository }
  package var bad: ObjectID { setup.bad }
  package var goods: [ObjectID] { setup.goods }
  package var logDirectory: URL { setup.logDirectory }
  package var outerGraph: CommitGraph { setup.graph }
  package var environments: [DeployEnvironment] { pool.all }
  package var active: [DeployEnvironment] { pool.active }
  package var huntEnvironment: String { pool.huntName }
  package var huntID: Int64 { journal.huntID }

  package func workspace(for environment: DeployEnvironment) -> URL {
    configuration.workspaceFolder(gitDirectory: repository.gitDirectory, environment: environment)
  }

  /// The whole hunt: the search, `--confirm`, `--confirm-revert`, the restore, the stored outcome, the report.
  package mutating func run() async -> HuntReport {
    let estimate = HuntEstimate(
      configuration: configuration, goods: goodsToCheck().count, bisection: bisection,
      candidates: outerGraph.candidateCount,
      width: active.count)
    var outcome: HuntOutcome
    // An empty range (good == bad, or bad an ancestor of good: swapped ends) or a range with
    // no commit changing the paths is said before anything is deployed.
    if case .concluded(let end) = bisection.nextRound(count: 1), end == .emptyRange || end == .noCandidate {
      outcome = .nothingToSearch(end)
    } else {
      events(.started(candidates: bisection.remainingCount, estimate: estimate, environment: huntEnvironment))
      outcome = await search()
    }
    if configuration.descendDependencies, case .culprit(let culprit) = outcome {
      if let stopped = await descendDependencies(of: culprit) { outcome = stopped }
    }
    if configuration.confirmRuns > 0, case .culprit(let culprit) = outcome {
      if let stopped = await confirm(culprit) { outcome = stopped }
    }
    if configuration.confirmRevert, case .culprit(let culprit) = outcome {
      if let stopped = await proveByRevert(culprit) { outcome = stopped }
    }
    // Nothing was deployed when there was nothing to search: nothing to restore either.
    var restoreTarget = self.restoreTarget(after: outcome)
    if case .nothingToSearch = outcome, steps.allSatisfy({ $0.deployAttempts.isEmpty }) { restoreTarget = nil }
    if case .culprit(let culprit) = outcome { _ = try? info(culprit) }
    return await end(with: outcome, restoringTo: restoreTarget, storedAs: nil)
  }

  /// Restores every environment to `target`, stores the outcome (a stopped hunt stays open
  /// for `resume`), gives back the leases and makes the report: the end of a hunt and of a
  /// reset alike. With its leases lost, the hunt restores nothing: another hunt may hold the
  /// environments now.
  package mutating func end(with outcome: HuntOutcome, restoringTo target: ObjectID?, storedAs text: String?) async
    -> HuntReport
  {
    var outcome = outcome
    // Without a deploy command nothing is redeployed: no restore to announce or report.
    let target = configuration.deployCommand == nil ? nil : target
    var restoration = Restoration()
    if let lost = pool.leaseLost {
      outcome = .stopped(.leaseLost(lost))
      for environment in environments {
        restoration.failures[environment.name] =
          "not restored: this hunt lost its lease (\(lost)); another hunt may hold it now"
      }
    } else {
      if target != nil { events(.restoring(target.flatMap { try? info($0) })) }
      restoration = await restoreAll(to: target)
      events(.restored(restoration.worst))
      if let lost = pool.leaseLost {
        outcome = .stopped(.leaseLost(lost))
      } else if restoration.interrupted {
        outcome = .stopped(stopper.reason ?? .signal(SIGINT))
      }
    }
    var stateFailure: String?
    // One end for the stored hunt and the summary, to the millisecond the state keeps: the
    // reports count the same time.
    let ended = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 * 1000).rounded(.down) / 1000)
    if !outcome.isStopped {
      do {
        try await journal.finish(outcome: text ?? findings.storedOutcome(outcome), endedAt: ended)
      } catch {
        stateFailure = error.errorDescription ?? "\(error)"
      }
    }
    await pool.release()
    await store.close()
    var report = findings.report(
      outcome, setup: setup, pool: pool, steps: steps, huntID: huntID,
      duration: .milliseconds(Int64((ended.timeIntervalSince(journal.startedAt) * 1000).rounded())),
      restoredTo: target, restoration: restoration)
    report.stateFailure = stateFailure
    return report
  }

  /// The facts of a commit, remembered for the report.
  package mutating func info(_ id: ObjectID) throws(GitError) -> CommitInfo {
    if let known = findings.commits[id] { return known }
    // Inside a dependency, its commits are read from its own history.
    let facts: CommitInfo
    if let stage = dependencyStage, let found = try? stage.repository.commit(id) {
      facts = found
    } else {
      facts = try repository.commit(id)
    }
    findings.commits[id] = facts
    return facts
  }

  /// The environment of every command: ours, the environment's variables, then the facts of
  /// the step. Commit data reaches commands only here, never in the command text.
  package func commandEnvironment(
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
  package mutating func recordOriginal() async -> HuntOutcome? {
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
      result = try await runCommand(spec, .stop)
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
    findings.original = id
    return nil
  }

  /// Where to restore: by default the newest commit known good on the main line.
  package func restoreTarget(after outcome: HuntOutcome) -> ObjectID? {
    switch configuration.restoreTarget {
    case .none: return nil
    case .original: return findings.original
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
  package mutating func restoreAll(to target: ObjectID?) async -> Restoration {
    guard let target, let deploy = configuration.deployCommand else { return Restoration() }
    var restoration = Restoration()
    var jobs = [(String, CommandSpec)]()
    for environment in environments {
      let checkout: URL
      do {
        checkout = try prepareCheckout(target, in: environment)
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
    // A second Ctrl-C or SIGTERM before the restore even started: the user wants out now.
    let signalsAtStart = stopper.signals
    if signalsAtStart >= 2 {
      for (name, _) in jobs {
        restoration.failures[name] = "not restored: a second Ctrl-C or SIGTERM came before the restore started"
      }
      restoration.interrupted = true
      return restoration
    }
    // The restore runs on a task of its own, so that the hunt's cancellation (the first
    // Ctrl-C) does not reach it; one more signal than there were at its start (at least two
    // in all) cancels it.
    let runCommand = self.runCommand
    let restore = Task {
      await withTaskGroup(of: RestoreOutcome.self) { group in
        for (name, spec) in jobs {
          group.addTask {
            // Awaited into a local, never inside the returned value: Swift 6.3.1 -O drops the
            // store of `name` when a `try await` sits inside a returned aggregate
            // (swiftlang/swift#91911).
            let result: Result<CommandResult, any Error>
            do {
              let finished = try await runCommand(spec, .stop)
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
    let forceAt = max(2, signalsAtStart + 1)
    // A restore whose leases are lost meanwhile is stopped too: another host may hold the
    // environment as soon as the lease runs out, and two deploys never share one.
    let keeper = pool.keeper
    let watcher = Task {
      while !Task.isCancelled {
        if stopper.signals >= forceAt || keeper?.lost != nil {
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
        if let lost = keeper?.lost {
          restoration.failures[outcome.environment] =
            "the restore was stopped: this hunt lost its lease (\(lost)); another hunt may hold it now"
        } else {
          restoration.failures[outcome.environment] = "the restore was stopped by a second Ctrl-C or SIGTERM"
        }
        restoration.interrupted = true
      case .success(let result): restoration.results[outcome.environment] = result
      case .failure(let error):
        restoration.failures[outcome.environment] = "cannot start the deploy: \(error.localizedDescription)"
      }
    }
    return restoration
  }

  /// One environment's restore, as its child task hands it back.
  package struct RestoreOutcome: Sendable {
    var environment: String
    var result: Result<CommandResult, any Error>
  }
  /// `environment`'s one checkout folder, holding exactly `commit`'s tree: moved there from
  /// the last step's commit by the difference, whatever the last deploy did in it undone
  /// (`Repository.updateCheckout`). Checkouts of earlier versions listed in the workspace's
  /// marker are removed, nothing else. Restore, dependency and revert steps come here too, so
  /// a pin a dependency step wrote into the checkout is put back by the next step.
  ///
  /// - Throws: `HuntError.workspace` when the workspace cannot be prepared; `GitError` when
  ///   the commit's tree cannot be checked out.
  package func prepareCheckout(_ commit: ObjectID, in environment: DeployEnvironment) throws -> URL {
    let (checkout, index) = try Workspace(folder: workspace(for: environment)).reusableCheckout()
    try repository.updateCheckout(commit, in: checkout, indexFile: index)
    return checkout
  }
}

/// Runs a whole hunt: verify the endpoints, bisect by deploying and testing, restore.
///
/// Cancel the calling task (after `stopper.stop(_:)`) to stop it: the running command's process
/// group is stopped and the restore step still runs.
public func runHunt(
  _ request: HuntRequest, stopper: HuntStopper, events: @escaping @Sendable (HuntEvent) -> Void,
  openStore: @escaping StoreOpener = openFileStore
) async throws(HuntError) -> HuntReport {
  var hunt = try await HuntSession.open(request, stopper: stopper, events: events, openStore: openStore)
  return await hunt.run()
}

/// Opens the state a hunt uses; the duration is how long an operation may be retried after a
/// lost connection. The command line passes one that knows PostgreSQL too
/// (HuntStorePostgres); HuntKit itself knows the protocol and the SQLite file only.
public typealias StoreOpener = @Sendable (StateLocation, Duration) async throws(StoreError) -> any StateStore

/// Opens an SQLite state file; refuses a PostgreSQL URL (that needs HuntStorePostgres).
public let openFileStore: StoreOpener = { location, _ throws(StoreError) in
  guard case .file(let path) = location else {
    throw .badLocation(location.description, reason: "this build opens state files only")
  }
  return try SQLiteStore(path: path)
}

/// Ends the unfinished hunt that `request` describes: every environment is restored (as at
/// the end of a hunt) and the hunt is closed as "reset".
public func resetHunt(
  _ request: HuntRequest, stopper: HuntStopper = HuntStopper(), events: @escaping @Sendable (HuntEvent) -> Void,
  openStore: @escaping StoreOpener = openFileStore
) async throws(HuntError) -> HuntReport {
  var session = try await HuntSession.open(
    request, for: .reset, stopper: stopper, events: events, openStore: openStore)
  return await session.reset()
}

extension HuntSession {
  package mutating func reset() async -> HuntReport {
    // The recorded verdicts decide where to restore: the newest main-line good.
    for row in replay { steps.append(record(from: row)) }
    replay = []
    let outcome = HuntOutcome.aborted("reset by the user")
    return await end(with: outcome, restoringTo: restoreTarget(after: outcome), storedAs: "reset")
  }
}
