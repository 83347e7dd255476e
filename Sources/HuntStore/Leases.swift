import Foundation
import History

/// Who asks for leases: one hunt in one process. The token tells processes apart where host
/// names and process ids do not (containers, pid reuse); host and pid are for people.
public struct LeaseClaim: Sendable, Hashable {
  public var huntID: Int64
  /// The host's name as people know it (`BISECT_DEPLOY_HOST`, else the host name).
  public var host: String
  public var pid: Int32
  /// The process as `ProcessIdentity` describes it: what tells a dead holder on this machine.
  public var process: String
  /// Unique per process: the lease's owner.
  public var token: String
  /// How long a lease lasts after each renewal, by the database's clock.
  public var duration: Duration

  public init(huntID: Int64, host: String, pid: Int32, process: String, token: String, duration: Duration) {
    self.huntID = huntID
    self.host = host
    self.pid = pid
    self.process = process
    self.token = token
    self.duration = duration
  }

  /// A claim of this process for `huntID`.
  public static func current(huntID: Int64, token: String, duration: Duration) -> LeaseClaim {
    LeaseClaim(
      huntID: huntID, host: ProcessIdentity.hostName, pid: getpid(), process: ProcessIdentity.current, token: token,
      duration: duration)
  }

  /// The same claim for hunt `id`.
  public func forHunt(_ id: Int64) -> LeaseClaim {
    var claim = self
    claim.huntID = id
    return claim
  }

  /// The holder this claim becomes, acquired and renewed at `now` (the database's clock).
  public func holder(acquiredAt: Date, now: Date) -> LeaseHolder {
    LeaseHolder(
      huntID: huntID, host: host, pid: pid, process: process, token: token, acquiredAt: acquiredAt, renewedAt: now,
      expiresAt: now.addingTimeInterval(duration.seconds))
  }
}

/// The lease a running hunt holds on itself, beside its environments': the name of no
/// environment (`#` is never in one), renewed with them. It makes "a process runs this hunt"
/// a fact of the store, so that two processes never run one hunt.
public func huntLeaseName(_ huntID: Int64) -> String { "#\(huntID)" }

/// True for a lease name that is a hunt's own (`huntLeaseName`), not an environment's.
public func isHuntLease(_ name: String) -> Bool { name.hasPrefix("#") }

/// Who holds an environment's lease, and until when.
public struct LeaseHolder: Sendable, Hashable {
  public var huntID: Int64
  public var host: String
  public var pid: Int32
  public var process: String
  public var token: String
  public var acquiredAt: Date
  public var renewedAt: Date
  /// When the lease ends unless renewed, by the database's clock.
  public var expiresAt: Date

  public init(
    huntID: Int64, host: String, pid: Int32, process: String, token: String, acquiredAt: Date, renewedAt: Date,
    expiresAt: Date
  ) {
    self.huntID = huntID
    self.host = host
    self.pid = pid
    self.process = process
    self.token = token
    self.acquiredAt = acquiredAt
    self.renewedAt = renewedAt
    self.expiresAt = expiresAt
  }

  /// "hunt 12 (pid 4242 on ci-runner-3, since 2026-12-02T03:00:00Z, lease until …)".
  public var description: String {
    "hunt \(huntID) (pid \(pid) on \(host.terminalSafe()), since \(acquiredAt.formatted(.iso8601)), "
      + "lease until \(expiresAt.formatted(.iso8601)))"
  }
}

/// One recorded lease.
public struct Lease: Sendable, Hashable {
  public var environment: String
  public var holder: LeaseHolder
  /// True when the lease ran out by the database's clock at the time it was read: anyone may
  /// take it over.
  public var expired: Bool

  public init(environment: String, holder: LeaseHolder, expired: Bool) {
    self.environment = environment
    self.holder = holder
    self.expired = expired
  }
}

/// A lease that was taken from another holder, and why that was allowed.
public struct TakenOver: Sendable, Hashable {
  public enum Reason: String, Sendable, Hashable {
    /// Its holder stopped renewing it and it ran out.
    case expired
    /// Its holder's process is gone from this machine (kill -9, a crash): no need to wait.
    case holderGone = "holder-gone"
  }

  public var environment: String
  public var previous: LeaseHolder
  public var reason: Reason

  public init(environment: String, previous: LeaseHolder, reason: Reason) {
    self.environment = environment
    self.previous = previous
    self.reason = reason
  }

  /// "the lease of dev2 held by hunt 4 (pid 88 on runner-1, …) ran out: taken over".
  public var description: String {
    let why = reason == .expired ? "ran out" : "outlived its process"
    return "the lease of \(environment) held by \(previous.description) \(why): taken over"
  }
}

/// What waiting in a pool's queue gave.
public enum PoolAnswer: Sendable, Hashable {
  /// Leases on these environments (in the pool's order); the claim left the queue.
  case granted([String], takenOver: [TakenOver])
  /// Not yet: `ahead` places are before this one, or no environment is free; `holders`
  /// lists who holds the pool's environments now.
  case waiting(ahead: Int, holders: [Lease])
}

/// What tells whether a lease's holder process is gone, on this machine only.
///
/// A process is described by the boot, the PID namespace, its id and its start time
/// (`/proc`). A holder is gone only when all of that says so from here: same boot, same
/// namespace, and no process with that id and start time. Anything else (another host, a
/// container with its own PID namespace, a description this build cannot read) is alive
/// until its lease runs out.
public enum ProcessIdentity {
  /// This process: `boot/namespace/pid/start`, or `pid` alone where /proc cannot tell more.
  public static let current: String = describe(getpid()) ?? "\(getpid())"

  /// The host name leases and hunts show: `BISECT_DEPLOY_HOST` when set (containers and CI
  /// runners that share a host name), else the machine's; control characters shown as text
  /// (a newline in it would forge a line in `hunts` and in messages, and it is stored).
  public static var hostName: String {
    if let given = ProcessInfo.processInfo.environment["BISECT_DEPLOY_HOST"], !given.isEmpty {
      return given.terminalSafe()
    }
    return ProcessInfo.processInfo.hostName.terminalSafe()
  }

  /// True only when `identity` names a process of this boot and PID namespace that no
  /// longer runs (no such id, or another process under it since).
  public static func isGone(_ identity: String) -> Bool {
    let parts = identity.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    guard parts.count == 4, let pid = Int32(parts[2]), pid > 0, let here = context() else { return false }
    guard parts[0] == here.boot, parts[1] == here.namespace else { return false }
    guard let now = startTime(of: pid) else {
      // No such process: gone, unless it exists but cannot be read (another user's).
      return kill(pid, 0) != 0 && errno == ESRCH
    }
    return now != parts[3]
  }

  /// True when `identity` names a process of this boot and PID namespace that runs now.
  public static func isRunningHere(_ identity: String) -> Bool {
    let parts = identity.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    guard parts.count == 4, let pid = Int32(parts[2]), let here = context(), parts[0] == here.boot,
      parts[1] == here.namespace
    else { return false }
    return startTime(of: pid) == parts[3]
  }

  static func describe(_ pid: Int32) -> String? {
    guard let here = context(), let start = startTime(of: pid) else { return nil }
    return "\(here.boot)/\(here.namespace)/\(pid)/\(start)"
  }

  private static func context() -> (boot: String, namespace: String)? {
    guard
      let boot = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)
        .trimmingCharacters(in: .whitespacesAndNewlines),
      let namespace = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid"),
      !boot.isEmpty
    else { return nil }
    return (boot, namespace.replacingOccurrences(of: "/", with: "_"))
  }

  /// Field 22 of `/proc/PID/stat`, the start time in clock ticks after boot.
  private static func startTime(of pid: Int32) -> String? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = stat.lastIndex(of: ")")
    else { return nil }
    // The command name (field 2) may hold spaces and parentheses: count after its last ')'.
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    // fields[0] is field 3 (state); the start time is field 22.
    guard fields.count > 19 else { return nil }
    return String(fields[19])
  }
}

extension Duration {
  /// The duration in seconds, as a floating-point number.
  public var seconds: Double {
    Double(components.seconds) + Double(components.attoseconds) / 1e18
  }
}

/// What taking one lease does, decided the same way by every store from the lease recorded
/// now (read inside the transaction that then writes the decision).
public enum LeaseDecision: Sendable, Hashable {
  /// Nobody holds it: insert the claim's lease.
  case take
  /// The claim holds it already: extend it (and point it at the claim's hunt).
  case renew
  /// Someone held it but may no longer: replace their lease with the claim's.
  case takeOver(TakenOver)
  /// A live holder has it.
  case refuse(LeaseHolder)

  public init(current: Lease?, claim: LeaseClaim) {
    guard let current else {
      self = .take
      return
    }
    if current.holder.token == claim.token {
      self = .renew
    } else if current.expired {
      self = .takeOver(TakenOver(environment: current.environment, previous: current.holder, reason: .expired))
    } else if ProcessIdentity.isGone(current.holder.process) {
      self = .takeOver(TakenOver(environment: current.environment, previous: current.holder, reason: .holderGone))
    } else {
      self = .refuse(current.holder)
    }
  }

  /// True when the claim may have the lease now.
  public var allowed: Bool {
    if case .refuse = self { return false }
    return true
  }
}

/// One place in a pool's queue, as the stores read it.
public struct PoolPlace: Sendable, Hashable {
  public var id: Int64
  public var token: String
  public var process: String
  public var expiresAt: Date

  public init(id: Int64, token: String, process: String, expiresAt: Date) {
    self.id = id
    self.token = token
    self.process = process
    self.expiresAt = expiresAt
  }

  /// A place whose hunt stopped refreshing it, or whose process is gone, no longer waits.
  public func isStale(now: Date) -> Bool { expiresAt <= now || ProcessIdentity.isGone(process) }
}

extension LeaseClaim {
  /// The environments of `pool` this claim may lease now, in the pool's order, given the
  /// leases recorded on them.
  public func freeEnvironments(of pool: [String], leases: [Lease]) -> [String] {
    pool.filter { name in LeaseDecision(current: leases.first { $0.environment == name }, claim: self).allowed }
  }
}

/// A pool's name in its queue: its environments in sorted order, so that hunts naming the
/// same pool in another order wait in the same line.
public func poolKey(_ pool: [String]) -> String { pool.sorted().joined(separator: ",") }
