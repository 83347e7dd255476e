import Foundation
import History
import HuntStore

/// The environments of one hunt and which of them may take work now.
///
/// It owns everything about allocation: the leases in the state store that make the
/// environments this hunt's against every other hunt on any host (taken in `claim`, waiting
/// first come first served in a pool's queue when none is free, kept alive by a
/// `LeaseKeeper`, given back in `release`), the order the user named them in, which are busy,
/// which deploys failed where (so that a commit goes elsewhere next), the strikes of an
/// environment whose deploys fail for commits that then deploy elsewhere, and the ones
/// retired for that. The hunt asks it for a lease on an environment for a step, runs the
/// step there, and gives the lease back: such a lease cannot be copied, so one environment
/// never runs two steps.
///
/// Not `Sendable` on purpose: it lives on the hunt's task; child tasks get only names.
package struct EnvironmentPool {
  /// Every environment this hunt holds, in the order the user named them (with a pool, the
  /// free ones it was given).
  package let all: [DeployEnvironment]
  /// The environments still given work; one that fails deploys that work elsewhere leaves.
  package private(set) var active: [DeployEnvironment]
  /// Deploys that failed in an environment for commits that then deployed elsewhere.
  package private(set) var strikes: [String: Int] = [:]
  /// Environments left out during the hunt, with why.
  package private(set) var retired: [String: String] = [:]
  /// Environments whose deploy failed for a commit, so it goes elsewhere next.
  private var failedDeploys: [ObjectID: Set<String>] = [:]
  /// Environments holding a lease now.
  private var busy: Set<String> = []
  /// The commit each environment has deployed, as this hunt's steps tell (replayed ones too):
  /// what the probabilistic search plans with.
  package private(set) var deployed: [String: ObjectID] = [:]
  /// The commits this process deployed itself: only these are tested again without a deploy
  /// (after a resume, or a restore in between, what an environment runs is not known).
  private var deployedHere: [String: ObjectID] = [:]

  /// Renews the store's leases while the hunt runs; nil for a pool made without a store
  /// (tests of allocation alone).
  package let keeper: LeaseKeeper?

  package init(_ environments: [DeployEnvironment], keeper: LeaseKeeper? = nil) {
    precondition(!environments.isEmpty, "a hunt has at least one environment")
    all = environments
    active = environments
    self.keeper = keeper
  }

  /// The environments' names joined, as the report shows them.
  package var huntName: String { all.map(\.name).joined(separator: ",") }

  /// Where `name` stands among all environments (a `RunningLeases` slot).
  package func position(of name: String) -> Int? { all.firstIndex { $0.name == name } }

  /// A lease on a free active environment for `commit`: the first, in the order named, that
  /// has not failed to deploy it; when every active one has, the first free one. Nil when
  /// none fits now (the job waits for a lease to come back).
  package mutating func lease(for commit: ObjectID) -> EnvironmentLease? {
    let free = active.filter { !busy.contains($0.name) }
    let tried = failedDeploys[commit] ?? []
    let untried = active.filter { !tried.contains($0.name) }
    let choice =
      untried.isEmpty ? free.first : free.first { candidate in untried.contains { $0.name == candidate.name } }
    guard let choice else { return nil }
    busy.insert(choice.name)
    return EnvironmentLease(environment: choice)
  }

  /// A lease on the environment `name` when it is active and free; nil otherwise.
  package mutating func lease(named name: String) -> EnvironmentLease? {
    guard let choice = active.first(where: { $0.name == name }), !busy.contains(name) else { return nil }
    busy.insert(name)
    return EnvironmentLease(environment: choice)
  }

  /// True when this process deployed `commit` in `name` and nothing since.
  package func hasDeployed(_ commit: ObjectID, in name: String) -> Bool { deployedHere[name] == commit }

  /// Notes what a step that ended left deployed in its environment: its commit after a deploy
  /// (or an export, with no deploy command) that gave a verdict; nothing known after a deploy
  /// that failed, was skipped or aborted. A test run again changes nothing.
  package mutating func stepEnded(_ record: StepRecord) {
    guard !record.environment.isEmpty, !record.reused, !record.retest else { return }
    var deployedNow: ObjectID?
    if case .verdict(let verdict) = record.result, verdict != .skip, !record.moved,
      !record.purpose.deploysDependency
    {
      deployedNow = record.commit
    }
    deployed[record.environment] = deployedNow
    if !record.replayed { deployedHere[record.environment] = deployedNow }
  }

  /// Takes a lease back: the environment is free again (and gets work again if active).
  package mutating func giveBack(_ lease: consuming EnvironmentLease) {
    let name = lease.environment.name
    let removed = busy.remove(name)
    precondition(removed != nil, "the lease of \(name) was given back twice")
  }

  /// The deploy of `commit` failed in `name`: it goes elsewhere next.
  package mutating func deployFailed(_ commit: ObjectID, in name: String) {
    failedDeploys[commit, default: []].insert(name)
  }

  /// True when a commit whose deploy failed in `name` has an active environment left that
  /// has not tried it: the step then moves there instead of being skipped.
  package func canMove(_ commit: ObjectID, failedIn name: String) -> Bool {
    let tried = (failedDeploys[commit] ?? []).union([name])
    return active.contains { !tried.contains($0.name) }
  }

  /// `commit` deployed after failing elsewhere: each environment it failed in gets a strike
  /// (once per commit), and one with two leaves the hunt, unless it is the last. Returns the
  /// environments retired now, with why.
  package mutating func deployedElsewhere(_ commit: ObjectID) -> [(name: String, reason: String)] {
    var now = [(name: String, reason: String)]()
    let failed = failedDeploys.removeValue(forKey: commit) ?? []
    for name in failed.sorted() {
      strikes[name, default: 0] += 1
      guard strikes[name, default: 0] >= 2, active.count > 1, active.contains(where: { $0.name == name }) else {
        continue
      }
      active.removeAll { $0.name == name }
      let reason = "its deploys failed \(strikes[name, default: 0]) times for commits that deployed elsewhere"
      retired[name] = reason
      now.append((name, reason))
    }
    return now
  }
}

extension EnvironmentPool {
  /// How a hunt gets its environments from the store.
  package enum Request {
    /// Every one of these (named with `--env`), waiting up to `wait` while another hunt has one.
    case named([DeployEnvironment])
    /// Up to `wants` free ones of the pool, first come first served, waiting up to `wait`.
    case pool([DeployEnvironment], wants: Int)
  }

  /// Leases the environments `request` asks for in `store` for `claim` (whose hunt's own
  /// lease it holds already), then starts renewing them and the hunt's lease. Says who held
  /// what when waiting, and whose lease was taken over.
  ///
  /// - Throws: `.store(.locked)` naming a holder, or `.noFreeEnvironment`, when the wait ran
  ///   out; `.stoppedWaiting` after Ctrl-C; the store's errors.
  package static func claim(
    _ request: Request, for claim: LeaseClaim, store: any StateStore, configuration: Configuration,
    stopper: HuntStopper, events: @Sendable (HuntEvent) -> Void
  ) async throws(HuntError) -> EnvironmentPool {
    let deadline = ContinuousClock.now + configuration.effectiveWaitForEnvironment
    // A waiting hunt asks again this often: within one renewal of a lease running out.
    let poll = min(configuration.leaseRenewal, .seconds(1))
    var lastWaiting: [String]?
    while true {
      if let reason = stopper.reason {
        if case .pool(let environments, _) = request {
          try? await store.leavePool(environments.map(\.name), for: claim)
        }
        throw .stoppedWaiting(reason)
      }
      let asked = ContinuousClock.now
      // The hunt's own lease, taken when it was opened, is renewed on every ask: a hunt that
      // waits longer than a lease is still running, and no one may take it over meanwhile.
      let huntLease = huntLeaseName(claim.huntID)
      let answer: Attempt
      let stillHeld: Bool
      do throws(StoreError) {
        let renewed = try await store.renewLeases([huntLease], for: claim)
        stillHeld = renewed.contains(huntLease)
        if stillHeld {
          answer = try await attempt(request, claim: claim, store: store)
        } else {
          answer = .busy(ahead: 0, holders: [], example: nil)
        }
      } catch {
        if case .pool(let environments, _) = request {
          try? await store.leavePool(environments.map(\.name), for: claim)
        }
        throw .store(error)
      }
      guard stillHeld else {
        if case .pool(let environments, _) = request {
          try? await store.leavePool(environments.map(\.name), for: claim)
        }
        throw .stoppedWaiting(
          .leaseLost(
            "the lease of hunt \(huntLease) is no longer this process's (taken over after it ran out, or freed by bisect-deploy unlock)"
          ))
      }
      switch answer {
      case .granted(let granted, let taken):
        for previous in taken { events(.leaseTakenOver(previous)) }
        let keeper = LeaseKeeper(
          store: store, claim: claim, environments: granted.map(\.name) + [huntLeaseName(claim.huntID)],
          renewal: configuration.leaseRenewal, safetyMargin: configuration.leaseSafetyMargin
        ) { reason in
          stopper.stop(.leaseLost(reason))
        }
        keeper.start(acquired: asked)
        events(.environmentsLeased(granted.map(\.name)))
        return EnvironmentPool(granted, keeper: keeper)
      case .busy(let ahead, let holders, let example):
        guard ContinuousClock.now + poll < deadline else {
          switch request {
          case .named:
            throw .store(example ?? .locked(environment: "", holder: holders.first!.holder))
          case .pool(let environments, _):
            try? await store.leavePool(environments.map(\.name), for: claim)
            throw .noFreeEnvironment(
              pool: environments.map(\.name), waited: configuration.effectiveWaitForEnvironment, ahead: ahead,
              holders: holders.map { "\($0.environment): \($0.holder.description)" }, example: example)
          }
        }
        let described = holders.map { "\($0.environment): \($0.holder.description)" }
        if described != lastWaiting { events(.waitingForEnvironment(ahead: ahead, holders: described)) }
        lastWaiting = described
        try? await Task.sleep(for: poll)
      }
    }
  }

  /// What one request to the store gave.
  private enum Attempt {
    case granted([DeployEnvironment], takenOver: [TakenOver])
    /// Not now: `ahead` hunts wait first, these hold the environments.
    case busy(ahead: Int, holders: [Lease], example: StoreError?)
  }

  private static func attempt(_ request: Request, claim: LeaseClaim, store: any StateStore) async throws(StoreError)
    -> Attempt
  {
    switch request {
    case .named(let environments):
      do {
        let taken = try await store.acquireLeases(environments.map(\.name), for: claim)
        return .granted(environments, takenOver: taken)
      } catch {
        guard case .locked(let environment, let holder) = error else { throw error }
        let now = Lease(environment: environment, holder: holder, expired: false)
        return .busy(ahead: 0, holders: [now], example: error)
      }
    case .pool(let environments, let wants):
      switch try await store.takeFromPool(environments.map(\.name), wants: wants, for: claim) {
      case .granted(let names, let taken):
        return .granted(environments.filter { names.contains($0.name) }, takenOver: taken)
      case .waiting(let ahead, let holders):
        let live = holders.first { !$0.expired }
        return .busy(
          ahead: ahead, holders: holders,
          example: live.map { StoreError.locked(environment: $0.environment, holder: $0.holder) })
      }
    }
  }

  /// Stops renewing and gives every lease back, the hunt's own included. A lease that
  /// cannot be given back (the database unreachable) runs out by itself after its duration.
  package func release() async {
    guard let keeper else { return }
    await keeper.stop()
    // Nothing to say when it fails: the lease runs out by itself.
    try? await keeper.store.releaseLeases(keeper.environments, for: keeper.claim)
  }

  /// Why the leases were lost, once they were: the hunt starts nothing more and restores nothing.
  package var leaseLost: String? { keeper?.lost }
}

/// The right to run one step in one environment, from `EnvironmentPool.lease(for:)` until
/// `EnvironmentPool.giveBack(_:)`. It cannot be copied: the environment is used by one step
/// at a time, and a lease that is not given back is a bug the pool reports.
package struct EnvironmentLease: ~Copyable {
  package let environment: DeployEnvironment

  fileprivate init(environment: DeployEnvironment) {
    self.environment = environment
  }
}

/// The leases of the steps running now, one slot per environment of the pool (by
/// `EnvironmentPool.position(of:)`). A fixed set of slots because leases cannot be copied,
/// and so cannot sit in an `Array` or `Dictionary`.
struct RunningLeases: ~Copyable {
  private let slots: UnsafeMutableBufferPointer<EnvironmentLease?>

  init(count: Int) {
    slots = .allocate(capacity: count)
    for index in 0..<count { (slots.baseAddress! + index).initialize(to: nil) }
  }

  /// Keeps `lease` in `slot` while its step runs; the slot must be empty.
  mutating func hold(_ lease: consuming EnvironmentLease, in slot: Int) {
    let previous = (slots.baseAddress! + slot).move()
    precondition(previous == nil, "two steps at once in one environment")
    (slots.baseAddress! + slot).initialize(to: lease)
  }

  /// The lease held in `slot`, which is empty afterwards.
  mutating func release(_ slot: Int) -> EnvironmentLease? {
    let lease = (slots.baseAddress! + slot).move()
    (slots.baseAddress! + slot).initialize(to: nil)
    return lease
  }

  deinit {
    for index in 0..<slots.count {
      let left = (slots.baseAddress! + index).move()
      precondition(left == nil, "a step's lease was never given back")
    }
    slots.deallocate()
  }
}
