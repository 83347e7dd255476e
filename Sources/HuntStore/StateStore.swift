import Foundation
import History

/// Where hunts live: their steps, the verdict cache, nightly runs, and the leases that keep
/// one hunt per environment. Two implementations keep the same promises: `SQLiteStore`, a
/// file inside one clone (the default), and `PostgresStore` (module HuntStorePostgres), one
/// database a team's hosts share.
///
/// The promises, whichever database is behind it (docs/state.md):
/// - a method that writes returns only after its transaction committed durably: a step whose
///   `recordStep` returned survives `kill -9` of the process and a crash of the database;
/// - writes that may be retried after a lost connection are idempotent: a hunt is created
///   once per `NewHunt.creationToken`, a step once per hunt and number;
/// - a database that is not ours, damaged or written by a newer release is refused before
///   anything is written, never reset;
/// - times that decide leases are the database's clock, so hosts with skewed clocks agree.
///
/// Instances may be shared by tasks (each is `Sendable`); several processes on several hosts
/// may use one database at once.
public protocol StateStore: AnyObject, Sendable {
  /// Where the state is, for messages: the file's path, or the PostgreSQL URL (which never
  /// holds a password).
  var location: String { get }

  // MARK: Hunts and steps

  /// Stores a new hunt and returns it with its id; with a claim, takes the hunt's own lease
  /// (`huntLeaseName`) for it in the same transaction, so that no other process can take the
  /// new hunt for a stopped one. Creating the same `creationToken` again returns the hunt
  /// stored the first time.
  func createHunt(_ new: NewHunt, leasing claim: LeaseClaim?) async throws(StoreError) -> HuntRecord
  /// Marks a hunt as ended. An unfinished hunt (nil outcome) is what `resume` continues.
  func finishHunt(id: Int64, outcome: String, endedAt: Date) async throws(StoreError)
  /// Unfinished hunts stored under `environment` (an environment, the joined names of
  /// several, or a pool's), newest first.
  func unfinishedHunts(environment: String) async throws(StoreError) -> [HuntRecord]
  /// The hunt with this id, or nil.
  func hunt(id: Int64) async throws(StoreError) -> HuntRecord?
  /// The newest `limit` hunts of every host, newest first.
  func hunts(limit: Int) async throws(StoreError) -> [HuntRecord]
  /// Records a finished step and returns after the commit. A good or bad verdict that was
  /// tested (not `reused`) also goes into the verdict cache under the hunt's fingerprint and
  /// the step's environment. Recording a step already stored with the same content (a retry
  /// after a lost connection) changes nothing; another step under that number throws
  /// `.duplicateStep`.
  func recordStep(_ step: StepRow) async throws(StoreError)
  /// The steps of a hunt in the order they were numbered.
  func steps(huntID: Int64) async throws(StoreError) -> [StepRow]
  /// Verdicts any hunt found with this fingerprint on this environment, by commit (40
  /// lowercase hexadecimal digits), whichever host tested them.
  func cachedVerdicts(fingerprint: String, environment: String) async throws(StoreError) -> [String: Verdict]

  // MARK: Leases

  /// Takes the leases of `environments` for `claim`, all or none, in one transaction.
  ///
  /// A lease held by the same claim (token) is renewed. One that expired by the database's
  /// clock, or whose holder's process is known to be gone (`ProcessIdentity.isGone`), is taken
  /// over and returned, so the caller can say whose it was. Any other holder makes this throw
  /// `.locked`, naming it; then nothing was taken.
  func acquireLeases(_ environments: [String], for claim: LeaseClaim) async throws(StoreError) -> [TakenOver]
  /// Extends the leases `claim` holds on `environments` by its duration; returns the ones
  /// it still held. A missing one was taken over (it had expired) or freed by `unlock`.
  func renewLeases(_ environments: [String], for claim: LeaseClaim) async throws(StoreError) -> Set<String>
  /// Gives back the leases `claim` holds on `environments`; others' leases are left alone.
  func releaseLeases(_ environments: [String], for claim: LeaseClaim) async throws(StoreError)
  /// Waits in the pool's queue, first come first served: registers or refreshes `claim`'s
  /// place, and when it is first and environments are free, leases up to `wants` of them
  /// (in the pool's order) and leaves the queue. Places whose holder stopped refreshing them
  /// (or whose process is gone) are dropped.
  func takeFromPool(_ pool: [String], wants: Int, for claim: LeaseClaim) async throws(StoreError) -> PoolAnswer
  /// Leaves the pool's queue (a hunt that gave up waiting, or was stopped).
  func leavePool(_ pool: [String], for claim: LeaseClaim) async throws(StoreError)
  /// The hunts some process runs or waits for now: they hold a lease or a place in a pool's
  /// queue that has not run out (and whose process is not known to be gone).
  func activeHunts() async throws(StoreError) -> Set<Int64>
  /// Every lease recorded now, expired ones included (`Lease.expired` says which).
  func leases() async throws(StoreError) -> [Lease]
  /// Removes the lease of `environment` whoever holds it (`bisect-deploy unlock`).
  func breakLease(environment: String) async throws(StoreError) -> LeaseHolder?
  /// Removes every lease of hunt `huntID`; returns their environments, sorted.
  func breakLeases(ofHunt huntID: Int64) async throws(StoreError) -> [String]

  // MARK: Nights

  /// Records the verdict on a branch tip; a tip already recorded keeps its first verdict.
  func recordNight(
    branch: String, environment: String, fingerprint: String, commit: String, verdict: Verdict, testedAt: Date
  ) async throws(StoreError) -> NightRecord
  /// Links a night to the hunt it started.
  func attachHunt(_ huntID: Int64, toNight id: Int64) async throws(StoreError)
  /// The night that tested `commit`, if one did.
  func night(branch: String, environment: String, fingerprint: String, commit: String) async throws(StoreError)
    -> NightRecord?
  /// The newest night of the branch on the environment, whatever its verdict: what a new
  /// night compares its answer with (nightly notifications say only what changed).
  func latestNight(branch: String, environment: String, fingerprint: String) async throws(StoreError) -> NightRecord?
  /// The newest night whose tip tested good.
  func lastGoodNight(branch: String, environment: String, fingerprint: String) async throws(StoreError)
    -> NightRecord?

  // MARK: Moving and closing

  /// Everything the store holds but leases and queue places, for `bisect-deploy state migrate`.
  func snapshot() async throws(StoreError) -> StateSnapshot
  /// Closes connections; the store is not used afterwards. Safe to call more than once.
  func close() async
}

extension StateStore {
  /// Stores a new hunt, taking no lease.
  public func createHunt(_ new: NewHunt) async throws(StoreError) -> HuntRecord {
    try await createHunt(new, leasing: nil)
  }

  /// `finishHunt` at the current time.
  public func finishHunt(id: Int64, outcome: String) async throws(StoreError) {
    try await finishHunt(id: id, outcome: outcome, endedAt: Date())
  }

  /// The newest unfinished hunt under `environment`, if any.
  public func unfinishedHunt(environment: String) async throws(StoreError) -> HuntRecord? {
    try await unfinishedHunts(environment: environment).first
  }

  /// `recordNight` at the current time.
  @discardableResult
  public func recordNight(
    branch: String, environment: String, fingerprint: String, commit: String, verdict: Verdict
  ) async throws(StoreError) -> NightRecord {
    try await recordNight(
      branch: branch, environment: environment, fingerprint: fingerprint, commit: commit, verdict: verdict,
      testedAt: Date())
  }

  /// Who holds the lease of `environment` now, if anyone (an expired lease included).
  public func leaseHolder(environment: String) async throws(StoreError) -> LeaseHolder? {
    try await leases().first { $0.environment == environment }?.holder
  }
}

/// Everything a store holds but its leases and queue places: what `state migrate` copies.
public struct StateSnapshot: Sendable {
  public var hunts: [HuntRecord] = []
  public var steps: [StepRow] = []
  public var cachedVerdicts: [CachedVerdict] = []
  public var nights: [NightRecord] = []

  public init() {}
}

/// One row of the verdict cache.
public struct CachedVerdict: Sendable, Hashable {
  public var fingerprint: String
  public var environment: String
  public var commit: String
  public var verdict: Verdict
  public var recordedAt: Date
  public var huntID: Int64?

  public init(
    fingerprint: String, environment: String, commit: String, verdict: Verdict, recordedAt: Date, huntID: Int64?
  ) {
    self.fingerprint = fingerprint
    self.environment = environment
    self.commit = commit
    self.verdict = verdict
    self.recordedAt = recordedAt
    self.huntID = huntID
  }
}
