import Foundation
import HuntStore
import Synchronization

/// Keeps a hunt's leases alive: renews them every `renewal` on a task of its own, and says
/// when they are lost.
///
/// A lease is lost when a renewal finds it gone (another host took it over after it ran out,
/// or a person ran `unlock`), or when no renewal succeeded for so long that the lease may run
/// out on the server before the running steps could be stopped: `lease − (grace + 1 s)` after
/// the last renewal that succeeded, counted from when it was sent. Then `onLost` runs once (the
/// hunt stops its steps, restores nothing, and stays open for `resume`).
///
/// `Sendable`; the hunt owns one per run and ends it with `stop()` before giving the leases back.
package final class LeaseKeeper: Sendable {
  package let store: any StateStore
  package let claim: LeaseClaim
  package let environments: [String]
  package let renewal: Duration
  /// How long after a successful renewal the hunt still knows it holds the leases.
  package let validFor: Duration
  private let state = Mutex(State())
  private let onLost: @Sendable (String) -> Void

  private struct State {
    var lost: String?
    var renewer: Task<Void, Never>?
  }

  package init(
    store: any StateStore, claim: LeaseClaim, environments: [String], renewal: Duration, safetyMargin: Duration,
    onLost: @escaping @Sendable (String) -> Void
  ) {
    self.store = store
    self.claim = claim
    self.environments = environments
    self.renewal = renewal
    validFor = claim.duration - safetyMargin
    self.onLost = onLost
  }

  /// Why the leases were lost, once they were.
  package var lost: String? { state.withLock { $0.lost } }

  /// Starts renewing; `acquired` is when the leases were taken (before the request was sent).
  package func start(acquired: ContinuousClock.Instant) {
    let task = Task { [self] in await renew(from: acquired) }
    state.withLock { $0.renewer = task }
  }

  /// Stops renewing (the hunt is about to give the leases back).
  package func stop() async {
    let task = state.withLock { state in
      defer { state.renewer = nil }
      return state.renewer
    }
    task?.cancel()
    await task?.value
  }

  private func renew(from acquired: ContinuousClock.Instant) async {
    var validUntil = acquired + validFor
    var failures = [String]()
    while !Task.isCancelled {
      // After a failed renewal, try again sooner: every second, within the renewal period.
      let wait = failures.isEmpty ? renewal : min(renewal, .seconds(1))
      let next = min(ContinuousClock.now + wait, validUntil)
      try? await Task.sleep(until: next)
      if Task.isCancelled { return }
      if ContinuousClock.now >= validUntil {
        let why = failures.last.map { ": \($0)" } ?? ""
        declareLost(
          "no renewal of the leases on \(environments.joined(separator: ", ")) succeeded for \(format(validFor))\(why)")
        return
      }
      let sent = ContinuousClock.now
      switch await attempt(until: validUntil) {
      case .held(let held):
        let missing = environments.filter { !held.contains($0) }
        guard missing.isEmpty else {
          declareLost(
            "the lease of \(missing.joined(separator: ", ")) is no longer this hunt's (taken over after it ran out, or freed by bisect-deploy unlock)"
          )
          return
        }
        validUntil = sent + validFor
        failures = []
      case .failed(let why):
        failures.append(why)
      }
    }
  }

  private enum Attempt: Sendable {
    case held(Set<String>)
    case failed(String)
  }

  /// One renewal, given up when `deadline` comes first. The store may go on retrying inside
  /// (a PostgreSQL store retries a lost connection): its answer is then left behind, never
  /// waited for.
  private func attempt(until deadline: ContinuousClock.Instant) async -> Attempt {
    let store = store
    let claim = claim
    let environments = environments
    let answer = await firstOf(deadline: deadline) { () async -> Attempt in
      do {
        let held = try await store.renewLeases(environments, for: claim)
        return .held(held)
      } catch {
        return .failed((error as? StoreError)?.errorDescription ?? "\(error)")
      }
    }
    return answer ?? .failed("the state database did not answer in time")
  }

  private func declareLost(_ reason: String) {
    let first = state.withLock { state in
      guard state.lost == nil else { return false }
      state.lost = reason
      return true
    }
    if first { onLost(reason) }
  }
}

/// "30 s", "2.5 s", "10 min": a duration for messages.
func format(_ duration: Duration) -> String {
  let seconds = duration.seconds
  if seconds >= 120, seconds.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(seconds / 60)) min" }
  if seconds == seconds.rounded() { return "\(Int(seconds)) s" }
  return String(format: "%.1f s", seconds)
}

/// The value of `operation`, or nil when `deadline` comes first. The operation runs on a task
/// of its own, which is not waited for once the deadline has passed.
func firstOf<T: Sendable>(deadline: ContinuousClock.Instant, _ operation: @escaping @Sendable () async -> T) async
  -> T?
{
  let answer = FirstAnswer<T?>()
  return await withCheckedContinuation { continuation in
    answer.wait(with: continuation)
    let work = Task {
      let value = await operation()
      answer.give(value)
    }
    Task {
      try? await Task.sleep(until: deadline)
      if answer.give(nil) { work.cancel() }
    }
  }
}

/// A continuation resumed by the first of several tasks that answer.
final class FirstAnswer<T: Sendable>: Sendable {
  private let continuation = Mutex<CheckedContinuation<T, Never>?>(nil)

  func wait(with continuation: CheckedContinuation<T, Never>) {
    self.continuation.withLock { $0 = continuation }
  }

  /// Resumes the waiter with `value` unless another answer came first; true when it was first.
  @discardableResult
  func give(_ value: T) -> Bool {
    guard
      let waiting = continuation.withLock({ state in
        defer { state = nil }
        return state
      })
    else { return false }
    waiting.resume(returning: value)
    return true
  }
}
