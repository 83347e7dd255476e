import BisectEngine
import Foundation
import GitKit
import History
import HuntStore
import Runner

/// How a nightly run ended, with the exit code a scheduler can act on (docs/nightly.md).
public enum NightlyOutcome: Sendable {
  /// The tip tested good.
  case good(ObjectID)
  /// This tip was tested by an earlier run; nothing was deployed.
  case alreadyTested(ObjectID, Verdict, huntOutcome: String?)
  /// The tip is bad and no earlier night was good: nothing to hunt between.
  case badWithoutGoodNight(ObjectID)
  /// The tip is bad; the hunt from the last good night ran.
  case hunted(HuntReport, lastGoodNight: ObjectID)
  /// The tip could not be tested (the deploy failed, the test said skip or aborted).
  case untested(ObjectID, String)

  /// 0 good, 10 culprit found, 11 bad with no good night before, 12 bad but no single
  /// culprit, 13 the tip could not be tested.
  public var exitCode: Int32 {
    switch self {
    case .good: 0
    case .alreadyTested(_, .good, _): 0
    case .alreadyTested(_, .bad, let outcome): OutcomeText(outcome ?? "").kind == .culprit ? 10 : 12
    case .alreadyTested: 13
    case .badWithoutGoodNight: 11
    case .hunted(let report, _):
      if case .culprit = report.outcome { 10 } else { 12 }
    case .untested: 13
    }
  }
}

/// Deploys and tests the tip of `branch`, records it, and when it is bad hunts from the last
/// good night (reusing known verdicts). `request.bad`/`goods` are ignored: the nights decide.
public func runNightly(
  _ request: HuntRequest, branch: String, stopper: HuntStopper, events: @escaping @Sendable (HuntEvent) -> Void,
  openStore: @escaping StoreOpener = openFileStore
) async throws(HuntError) -> NightlyOutcome {
  let repository: Repository
  do {
    repository = try Repository(at: request.repositoryPath)
  } catch {
    throw .git(error)
  }
  let store: any StateStore
  do {
    store = try await openStore(
      request.state ?? .file(SQLiteStore.defaultPath(gitDirectory: repository.gitDirectory)),
      request.configuration.leaseDuration)
  } catch {
    throw .store(error)
  }
  let outcome: NightlyOutcome
  do {
    outcome = try await runNightly(
      request, branch: branch, store: store, stopper: stopper, events: events, openStore: openStore)
  } catch {
    await store.close()
    throw error
  }
  await store.close()
  return outcome
}

private func runNightly(
  _ request: HuntRequest, branch: String, store: any StateStore, stopper: HuntStopper,
  events: @escaping @Sendable (HuntEvent) -> Void, openStore: @escaping StoreOpener
) async throws(HuntError) -> NightlyOutcome {
  let configuration = request.configuration
  let environment = try request.checkedEnvironment()
  let repository: Repository
  let tip: ObjectID
  do {
    repository = try Repository(at: request.repositoryPath)
    tip = try repository.resolve(branch)
  } catch {
    throw .git(error)
  }
  let fingerprint = configuration.fingerprint(for: environment)
  do {
    if let known = try await store.night(
      branch: branch, environment: environment.name, fingerprint: fingerprint, commit: tip.hex)
    {
      var outcome: String?
      if let huntID = known.huntID { outcome = try await store.hunt(id: huntID)?.outcome }
      // A bad night whose hunt was interrupted goes on with that hunt (it resumes).
      let huntPending = known.verdict == .bad && outcome == nil
      if !huntPending { return .alreadyTested(tip, known.verdict, huntOutcome: outcome) }
      return try await huntFromLastGoodNight(
        request, tip: tip, night: known, store: store, branch: branch, environment: environment,
        fingerprint: fingerprint, stopper: stopper, events: events, openStore: openStore)
    }
  } catch let error as StoreError {
    throw .store(error)
  } catch let error as HuntError {
    throw error
  } catch {
    throw .workspace(path: request.repositoryPath, reason: "\(error)")
  }

  // Tonight's tip: one step, as a hunt would run it. The check is not a hunt and takes no
  // lease of its own, but it never deploys into an environment that a running hunt on any
  // host holds: it is refused as a second hunt would be (exit 75), to run again later.
  let held: Lease?
  do {
    held = try await store.leases().first {
      $0.environment == environment.name && !$0.expired && !ProcessIdentity.isGone($0.holder.process)
    }
  } catch {
    throw .store(error)
  }
  if let held { throw .store(.locked(environment: environment.name, holder: held.holder)) }
  // A folder of its own beside the environment's (`dev@nightly`; `@` is never in an
  // environment's name): it must not touch the checkouts of a hunt on the same environment.
  let workspace = try Workspace.claim(
    configuration.workspaceFolder(gitDirectory: repository.gitDirectory, environment: environment)
      .deletingLastPathComponent().appendingPathComponent("\(environment.name)@nightly"),
    inToolFolder: configuration.workspace == nil)
  let (checkout, index) = try workspace.reusableCheckout()
  let logs = configuration.logFolder(gitDirectory: repository.gitDirectory)
    .appendingPathComponent("nightly-\(tip.short(10))")
  do {
    try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
    try repository.updateCheckout(tip, in: checkout, indexFile: index)
  } catch {
    throw .workspace(path: checkout.path, reason: "\(error)")
  }
  let variables = stepVariables(
    repository: repository, environment: environment, commit: tip, checkout: checkout, step: 0, phase: "nightly")
  var record = StepRecord(number: 0, commit: tip, purpose: .verifyBad, logDirectory: logs)
  record.environment = environment.name
  if let facts = try? repository.commit(tip) {
    events(.stepStarted(number: 0, commit: facts, remaining: 0, purpose: .verifyBad, environment: environment.name))
  }
  await deployAndTest(
    &record, checkout: checkout, environment: variables, configuration: configuration,
    runs: TestRuns.of(configuration), stopper: stopper, events: events,
    runCommand: { spec, response throws(RunnerError) in try await Runner.run(spec, whenCancelled: response) })
  // The checkout stays: tomorrow's check moves it by the difference.
  events(.stepFinished(record))

  guard case .verdict(let verdict) = record.result, verdict != .skip else {
    let why =
      switch record.result {
      case .abort(let reason): reason
      case .stopped: "stopped"
      case .verdict(let verdict): "its step said \(verdict.rawValue)"
      }
    return .untested(tip, why)
  }
  let night: NightRecord
  let lastGood: NightRecord?
  do {
    lastGood = try await store.lastGoodNight(branch: branch, environment: environment.name, fingerprint: fingerprint)
    night = try await store.recordNight(
      branch: branch, environment: environment.name, fingerprint: fingerprint, commit: tip.hex,
      verdict: verdict == .good ? .good : .bad)
  } catch {
    throw .store(error)
  }
  if verdict == .good { return .good(tip) }
  guard lastGood != nil else { return .badWithoutGoodNight(tip) }
  return try await huntFromLastGoodNight(
    request, tip: tip, night: night, store: store, branch: branch, environment: environment,
    fingerprint: fingerprint, stopper: stopper, events: events, openStore: openStore)
}

/// The hunt of a bad night: from the newest good night to this tip, reusing verdicts. Both
/// ends have verdicts from their nights, so they are not tested again.
func huntFromLastGoodNight(
  _ request: HuntRequest, tip: ObjectID, night: NightRecord, store: any StateStore, branch: String,
  environment: DeployEnvironment, fingerprint: String, stopper: HuntStopper,
  events: @escaping @Sendable (HuntEvent) -> Void, openStore: @escaping StoreOpener
) async throws(HuntError) -> NightlyOutcome {
  let lastGood: NightRecord?
  do {
    lastGood = try await store.lastGoodNight(branch: branch, environment: environment.name, fingerprint: fingerprint)
  } catch {
    throw .store(error)
  }
  guard let lastGood, let good = ObjectID(hex: lastGood.commit) else { return .badWithoutGoodNight(tip) }
  var hunt = request
  hunt.bad = tip.hex
  hunt.goods = [good.hex]
  hunt.configuration.verifyEndpoints = false
  hunt.configuration.reuseVerdicts = true
  // What `bisect-deploy resume` needs to start this hunt again.
  hunt.arguments = request.arguments + ["--good", good.hex, "--bad", tip.hex, "--no-verify", "--reuse-verdicts"]
  let report = try await runHunt(hunt, stopper: stopper, events: events, openStore: openStore)
  // The night's link to its hunt is for `nightly` to continue an interrupted hunt; the hunt
  // itself is stored either way.
  try? await store.attachHunt(report.huntID, toNight: night.id)
  return .hunted(report, lastGoodNight: good)
}
