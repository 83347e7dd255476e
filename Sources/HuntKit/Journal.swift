import Foundation
import History
import HuntStore

/// Where a hunt becomes durable: the hunt's record, its steps (each stored before the next
/// step starts), the verdicts earlier hunts left for reuse, and the locks that keep one hunt
/// per environment. The hunt sees only this; `SQLiteJournal` is the store behind it today.
protocol Journal {
  /// The hunt's number in the store (`bisect-deploy report --hunt N`).
  var huntID: Int64 { get }
  /// Steps stored before the tool was stopped, in the order they were stored: replayed, not
  /// run again.
  var recorded: [StepRow] { get }
  /// Verdicts of earlier hunts with the same fingerprint, by commit (40 hex digits).
  var cachedVerdicts: [String: Verdict] { get }
  /// Makes one step durable; throws when it could not be stored (the hunt then aborts).
  func record(_ step: StepRow) throws(StoreError)
  /// Closes the hunt with its outcome in the stored form (`OutcomeText`).
  func finish(outcome: String) throws(StoreError)
  /// Gives back every lock the hunt holds. Safe to call more than once.
  func release()
}

/// The identity of a hunt in the journal: a stopped hunt is resumed only with all of it equal.
struct HuntIdentity: Sendable, Hashable {
  var repositoryPath: String
  var bad: ObjectID
  var goods: [ObjectID]
  var paths: [String]
  var firstParent: Bool
  /// What decides a verdict: deploy and test commands, the environments and their variables.
  var fingerprint: String
  /// The environments, in order; the hunt is stored and locked under their joined names.
  var environments: [String]
  /// The command line that started it, stored for `resume`.
  var invocation: StoredInvocation

  var huntName: String { environments.joined(separator: ",") }
}

/// The journal in the SQLite state database (`.git/bisect-deploy/state.sqlite`, or
/// `--state`).
struct SQLiteJournal: Journal {
  let store: StateStore
  let huntID: Int64
  let recorded: [StepRow]
  let cachedVerdicts: [String: Verdict]
  /// Every lock name this hunt holds: the joined name, and each environment's with several.
  private let lockNames: [String]

  /// Opens the hunt `identity` describes: resumes its unfinished hunt (refused when one with
  /// other settings is open), or creates it; locks every environment (refused, with the
  /// holder named, when a live hunt holds one); reads the verdicts to reuse when asked.
  /// Whatever it took is given back when it fails, and a hunt it created and could not lock
  /// is closed as refused rather than left for `resume`.
  static func open(path: String, identity: HuntIdentity, reuseVerdicts: Bool) throws(HuntError) -> SQLiteJournal {
    let joined = identity.huntName
    let names = identity.environments.count > 1 ? [joined] + identity.environments : [joined]
    let store: StateStore
    do {
      store = try StateStore(path: path)
    } catch {
      throw .store(error)
    }
    var huntID: Int64 = 0
    var created = false
    var taken = [String]()
    do {
      var recorded = [StepRow]()
      if let unfinished = try store.unfinishedHunt(environment: joined) {
        // Refused with the holder named when another live process runs it.
        try store.acquireLock(environment: joined, huntID: unfinished.id)
        huntID = unfinished.id
        taken.append(joined)
        let same =
          unfinished.bad == identity.bad.hex && unfinished.goods == identity.goods.map(\.hex)
          && unfinished.paths == identity.paths && unfinished.firstParent == identity.firstParent
          && unfinished.configFingerprint == identity.fingerprint
        guard same else {
          release(taken, of: huntID, in: store)
          throw HuntError.unfinishedHunt(
            id: unfinished.id, environment: joined, bad: unfinished.bad, startedAt: unfinished.startedAt)
        }
        recorded = try store.steps(huntID: unfinished.id)
        // Replay needs every stored commit as an id: a damaged row is said, never replayed as
        // another commit's verdict.
        if let damaged = recorded.first(where: { ObjectID(hex: $0.commit) == nil }) {
          throw StoreError.damaged(
            path: path, reason: "step \(damaged.number) of hunt #\(huntID) holds the commit '\(damaged.commit)'")
        }
      } else {
        huntID = try store.createLockedHunt(
          NewHunt(
            repositoryPath: identity.repositoryPath, bad: identity.bad.hex, goods: identity.goods.map(\.hex),
            paths: identity.paths, firstParent: identity.firstParent, environment: joined,
            configFingerprint: identity.fingerprint, commandLine: identity.invocation.encoded)
        ).hunt.id
        created = true
        taken.append(joined)
      }
      // Each member too, so that a hunt on any of them alone is refused while this one runs.
      for name in names where name != joined {
        try store.acquireLock(environment: name, huntID: huntID)
        taken.append(name)
      }
      var cached = [String: Verdict]()
      if reuseVerdicts {
        // Verdicts are cached under the environment each step ran in: a hunt over several
        // environments reads every one of them, in the order named, so that the same store
        // always gives the same answers.
        for name in names {
          cached.merge(try store.cachedVerdicts(fingerprint: identity.fingerprint, environment: name)) { first, _ in
            first
          }
        }
      }
      return SQLiteJournal(store: store, huntID: huntID, recorded: recorded, cachedVerdicts: cached, lockNames: names)
    } catch let error as HuntError {
      throw error
    } catch let error as StoreError {
      release(taken, of: huntID, in: store)
      if created {
        // Refused: a hunt created just now never ran, so it is closed rather than left open.
        try? store.finishHunt(id: huntID, outcome: "refused: \(error.errorDescription ?? "an environment is busy")")
      }
      throw .store(error)
    } catch {
      release(taken, of: huntID, in: store)
      throw .workspace(path: path, reason: "\(error)")
    }
  }

  private static func release(_ names: [String], of huntID: Int64, in store: StateStore) {
    for name in names { _ = try? store.releaseLock(environment: name, huntID: huntID) }
  }

  func record(_ step: StepRow) throws(StoreError) {
    try store.recordStep(step)
  }

  func finish(outcome: String) throws(StoreError) {
    try store.finishHunt(id: huntID, outcome: outcome, endedAt: Date())
  }

  func release() {
    Self.release(lockNames, of: huntID, in: store)
  }
}
