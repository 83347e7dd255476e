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

/// The value of `operation`, or nil when `deadline` comes first or the caller is cancelled.
/// The operation runs on a task of its own, which is not waited for once the deadline has
/// passed (a renewal stuck on an unreachable database never holds up the hunt's end).
func firstOf<T: Sendable>(deadline: ContinuousClock.Instant, _ operation: @escaping @Sendable () async -> T) async
  -> T?
{
  let answer = FirstAnswer<T?>()
  let work = TaskHolder()
  return await withTaskCancellationHandler {
    await withCheckedContinuation { continuation in
      answer.wait(with: continuation)
      let task = Task {
        let value = await operation()
        answer.give(value)
      }
      work.hold(task)
      Task {
        try? await Task.sleep(until: deadline)
        if answer.give(nil) { task.cancel() }
      }
    }
  } onCancel: {
    if answer.give(nil) { work.cancel() }
  }
}

/// The operation's task of `firstOf`, for a cancellation that may come before it exists.
private final class TaskHolder: Sendable {
  private let task = Mutex<(task: Task<Void, Never>?, cancelled: Bool)>((nil, false))

  func hold(_ task: Task<Void, Never>) {
    let cancelled = self.task.withLock { state in
      state.task = task
      return state.cancelled
    }
    if cancelled { task.cancel() }
  }

  func cancel() {
    let task = self.task.withLock { state in
      state.cancelled = true
      return state.task
    }
    task?.cancel()
  }
}

/// A continuation resumed by the first of several tasks that answer. An answer given before
/// the waiter arrives (a caller cancelled at once) is kept for it.
final class FirstAnswer<T: Sendable>: Sendable {
  private enum State {
    case empty
    case waiting(CheckedContinuation<T, Never>)
    case answered(T)
    case done
  }

  private let state = Mutex<State>(.empty)

  func wait(with continuation: CheckedContinuation<T, Never>) {
    let early = state.withLock { state -> T? in
      if case .answered(let value) = state {
        state = .done
        return value
      }
      state = .waiting(continuation)
      return nil
    }
    if let early { continuation.resume(returning: early) }
  }

  /// Resumes the waiter with `value` unless another answer came first; true when it was first.
  @discardableResult
  func give(_ value: T) -> Bool {
    let (first, waiting) = state.withLock { state -> (Bool, CheckedContinuation<T, Never>?) in
      switch state {
      case .empty:
        state = .answered(value)
        return (true, nil)
      case .waiting(let continuation):
        state = .done
        return (true, continuation)
      case .answered, .done:
        return (false, nil)
      }
    }
    waiting?.resume(returning: value)
    return first
  }
}
