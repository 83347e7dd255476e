import Foundation
import History

/// The environments of one hunt and which of them may take work now.
///
/// It owns everything about allocation: the order the user named them in, which are busy,
/// which deploys failed where (so that a commit goes elsewhere next), the strikes of an
/// environment whose deploys fail for commits that then deploy elsewhere, and the ones
/// retired for that. The hunt asks it for a lease, runs a step in the leased environment, and
/// gives the lease back: a lease cannot be copied, so one environment never runs two steps.
///
/// Not `Sendable` on purpose: it lives on the hunt's task; child tasks get only names.
struct EnvironmentPool {
  /// Every environment of the hunt, in the order the user named them.
  let all: [DeployEnvironment]
  /// The environments still given work; one that fails deploys that work elsewhere leaves.
  private(set) var active: [DeployEnvironment]
  /// Deploys that failed in an environment for commits that then deployed elsewhere.
  private(set) var strikes: [String: Int] = [:]
  /// Environments left out during the hunt, with why.
  private(set) var retired: [String: String] = [:]
  /// Environments whose deploy failed for a commit, so it goes elsewhere next.
  private var failedDeploys: [ObjectID: Set<String>] = [:]
  /// Environments holding a lease now.
  private var busy: Set<String> = []

  init(_ environments: [DeployEnvironment]) {
    precondition(!environments.isEmpty, "a hunt has at least one environment")
    all = environments
    active = environments
  }

  /// The name the hunt is stored and locked under: the environment's, or the names joined.
  var huntName: String { all.map(\.name).joined(separator: ",") }

  /// Where `name` stands among all environments (a `RunningLeases` slot).
  func position(of name: String) -> Int? { all.firstIndex { $0.name == name } }

  /// A lease on a free active environment for `commit`: the first, in the order named, that
  /// has not failed to deploy it; when every active one has, the first free one. Nil when
  /// none fits now (the job waits for a lease to come back).
  mutating func lease(for commit: ObjectID) -> EnvironmentLease? {
    let free = active.filter { !busy.contains($0.name) }
    let tried = failedDeploys[commit] ?? []
    let untried = active.filter { !tried.contains($0.name) }
    let choice =
      untried.isEmpty ? free.first : free.first { candidate in untried.contains { $0.name == candidate.name } }
    guard let choice else { return nil }
    busy.insert(choice.name)
    return EnvironmentLease(environment: choice)
  }

  /// Takes a lease back: the environment is free again (and gets work again if active).
  mutating func giveBack(_ lease: consuming EnvironmentLease) {
    let name = lease.environment.name
    let removed = busy.remove(name)
    precondition(removed != nil, "the lease of \(name) was given back twice")
  }

  /// The deploy of `commit` failed in `name`: it goes elsewhere next.
  mutating func deployFailed(_ commit: ObjectID, in name: String) {
    failedDeploys[commit, default: []].insert(name)
  }

  /// True when a commit whose deploy failed in `name` has an active environment left that
  /// has not tried it: the step then moves there instead of being skipped.
  func canMove(_ commit: ObjectID, failedIn name: String) -> Bool {
    let tried = (failedDeploys[commit] ?? []).union([name])
    return active.contains { !tried.contains($0.name) }
  }

  /// `commit` deployed after failing elsewhere: each environment it failed in gets a strike
  /// (once per commit), and one with two leaves the hunt, unless it is the last. Returns the
  /// environments retired now, with why.
  mutating func deployedElsewhere(_ commit: ObjectID) -> [(name: String, reason: String)] {
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

/// The right to run one step in one environment, from `EnvironmentPool.lease(for:)` until
/// `EnvironmentPool.giveBack(_:)`. It cannot be copied: the environment is used by one step
/// at a time, and a lease that is not given back is a bug the pool reports.
struct EnvironmentLease: ~Copyable {
  let environment: DeployEnvironment

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
