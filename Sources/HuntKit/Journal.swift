import Foundation
import History
import HuntStore

/// Where a hunt becomes durable: the hunt's record, its steps (each stored before the next
/// step starts) and the verdicts earlier hunts left for reuse. The hunt sees only this;
/// `StoreJournal` is it over any `StateStore` (the SQLite file or PostgreSQL). Leases are the
/// environment pool's business (`EnvironmentPool.claim`).
package protocol Journal {
  /// The hunt's number in the store (`bisect-deploy report --hunt N`).
  var huntID: Int64 { get }
  /// When the hunt was first started (before any stop and resume): its time is counted from
  /// here, in the summary and the reports alike.
  var startedAt: Date { get }
  /// Steps stored before the tool was stopped, in the order they were stored: replayed, not
  /// run again.
  var recorded: [StepRow] { get }
  /// Verdicts of earlier hunts with the same fingerprint, by commit (40 hex digits).
  var cachedVerdicts: [String: Verdict] { get }
  /// Makes one step durable; throws when it could not be stored (the hunt then aborts).
  func record(_ step: StepRow) async throws(StoreError)
  /// Closes the hunt with its outcome in the stored form (`OutcomeText`), ended at `endedAt`.
  func finish(outcome: String, endedAt: Date) async throws(StoreError)
}

/// The identity of a hunt in the journal: a stopped one is resumed only with all of it equal.
package struct HuntIdentity: Sendable, Hashable {
  package var repositoryPath: String
  package var bad: ObjectID
  package var goods: [ObjectID]
  package var paths: [String]
  package var firstParent: Bool
  /// What decides a verdict: deploy and test commands, the environments and their variables.
  package var fingerprint: String
  /// The environments, in order (with a pool, every environment of the pool); the hunt is
  /// stored under their joined names.
  package var environments: [String]
  /// True when the environments are a pool the hunt takes free ones from.
  package var pool: Bool
  /// The command line that started it, stored for `resume`.
  package var invocation: StoredInvocation

  package var huntName: String { environments.joined(separator: ",") }

  /// True when `hunt` is this hunt, stopped: the same range, settings and environments.
  package func matches(_ hunt: HuntRecord) -> Bool {
    hunt.bad == bad.hex && hunt.goods == goods.map(\.hex) && hunt.paths == paths && hunt.firstParent == firstParent
      && hunt.configFingerprint == fingerprint && hunt.pool == pool && hunt.environment == huntName
  }
}

/// The journal in a state store.
package struct StoreJournal: Journal {
  package let store: any StateStore
  package let huntID: Int64
  package let startedAt: Date
  package let recorded: [StepRow]
  package let cachedVerdicts: [String: Verdict]
  /// True when this run created the hunt (rather than resuming it): a hunt refused before it
  /// ran is closed, not left for `resume`.
  package let created: Bool

  /// Opens the hunt `identity` describes and takes its own lease (`huntLeaseName`) for
  /// `claim`, so that no other process runs it at the same time.
  ///
  /// `resumeID` names the stopped hunt to continue (`bisect-deploy resume`), refused when its
  /// settings changed unless `requireSameSettings` is off (a reset). Without it, with named
  /// environments, the newest unfinished hunt on them is continued when its settings are the
  /// same, and refused otherwise (its holder named when a process runs it); with a pool, the
  /// newest unfinished hunt with the same settings that no process runs (killed) is continued,
  /// else a new hunt starts (many hunts share a pool's name). Reads the verdicts to reuse when asked.
  package static func open(
    store: any StateStore, identity: HuntIdentity, claim: LeaseClaim, resumeID: Int64? = nil, reuseVerdicts: Bool,
    requireSameSettings: Bool = true
  ) async throws(HuntError) -> StoreJournal {
    let name = identity.huntName
    // The hunt lease this call holds, given back when the opening fails after taking it.
    var held: Int64?
    do {
      var resumed: HuntRecord?
      if let resumeID {
        guard let stopped = try await store.hunt(id: resumeID), !stopped.isFinished else {
          throw StoreError.unknownHunt(id: resumeID, path: store.location)
        }
        // A reset ends the hunt whatever changed since: it only restores.
        guard identity.matches(stopped) || !requireSameSettings else {
          throw HuntError.changedSinceStopped(id: resumeID)
        }
        resumed = stopped
      } else if !identity.pool,
        let newest = try await store.unfinishedHunts(environment: name).first(where: { !$0.pool })
      {
        // Refused with the holder named when another process runs it.
        _ = try await store.acquireLeases([huntLeaseName(newest.id)], for: claim.forHunt(newest.id))
        held = newest.id
        guard identity.matches(newest) else {
          try await store.releaseLeases([huntLeaseName(newest.id)], for: claim)
          throw HuntError.unfinishedHunt(
            id: newest.id, environment: name, bad: newest.bad, startedAt: newest.startedAt)
        }
        resumed = newest
      } else if identity.pool {
        // Many hunts share a pool's name: the same command continues the newest unfinished
        // one with the same settings whose own lease is free (its process was killed), and
        // starts a new hunt beside any that runs now.
        for candidate in try await store.unfinishedHunts(environment: name)
        where candidate.pool && identity.matches(candidate) {
          do throws(StoreError) {
            _ = try await store.acquireLeases([huntLeaseName(candidate.id)], for: claim.forHunt(candidate.id))
          } catch {
            if case .locked = error { continue }
            throw error
          }
          // Its lease was free: its process died, or it ended meanwhile (a hunt stores its
          // outcome before giving its lease back). Only a hunt still unfinished is continued.
          guard let current = try await store.hunt(id: candidate.id), !current.isFinished else {
            try await store.releaseLeases([huntLeaseName(candidate.id)], for: claim.forHunt(candidate.id))
            continue
          }
          held = candidate.id
          resumed = current
          break
        }
      }
      let huntID: Int64
      let startedAt: Date
      var recorded = [StepRow]()
      if let resumed {
        huntID = resumed.id
        startedAt = resumed.startedAt
        // Refused with the holder named when another process runs it.
        _ = try await store.acquireLeases([huntLeaseName(huntID)], for: claim.forHunt(huntID))
        held = huntID
        recorded = try await store.steps(huntID: resumed.id)
        // Replay needs every stored commit as an id: a damaged row is said, never replayed as
        // another commit's verdict.
        if let damaged = recorded.first(where: { ObjectID(hex: $0.commit) == nil }) {
          try await store.releaseLeases([huntLeaseName(huntID)], for: claim)
          throw StoreError.damaged(
            path: store.location,
            reason: "step \(damaged.number) of hunt #\(huntID) holds the commit '\(damaged.commit)'")
        }
      } else {
        let created = try await store.createHunt(
          NewHunt(
            repositoryPath: identity.repositoryPath, bad: identity.bad.hex, goods: identity.goods.map(\.hex),
            paths: identity.paths, firstParent: identity.firstParent, environment: name,
            configFingerprint: identity.fingerprint, commandLine: identity.invocation.encoded, pool: identity.pool),
          leasing: claim)
        huntID = created.id
        startedAt = created.startedAt
        held = huntID
      }
      var cached = [String: Verdict]()
      if reuseVerdicts {
        // Verdicts are cached under the environment each step ran in: a hunt over several
        // environments (or a pool) reads every one of them, in the order named, so that the
        // same store always gives the same answers.
        let names = identity.environments.count > 1 ? [name] + identity.environments : [name]
        for environment in names {
          let found = try await store.cachedVerdicts(fingerprint: identity.fingerprint, environment: environment)
          cached.merge(found) { first, _ in first }
        }
      }
      return StoreJournal(
        store: store, huntID: huntID, startedAt: startedAt, recorded: recorded, cachedVerdicts: cached,
        created: resumed == nil)
    } catch {
      if let held { try? await store.releaseLeases([huntLeaseName(held)], for: claim.forHunt(held)) }
      if let error = error as? HuntError { throw error }
      if let error = error as? StoreError { throw .store(error) }
      throw .workspace(path: store.location, reason: "\(error)")
    }
  }

  package func record(_ step: StepRow) async throws(StoreError) {
    try await store.recordStep(step)
  }

  package func finish(outcome: String, endedAt: Date) async throws(StoreError) {
    try await store.finishHunt(id: huntID, outcome: outcome, endedAt: endedAt)
  }
}
