import Dispatch
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Turns SIGINT and SIGTERM sent to this process into values of `signals`, so the CLI can
/// cancel the hunt task, run the restore step, save its state and exit with
/// `Signal.exitStatus` (130 or 143) instead of dying mid-deploy.
///
/// While a trap is active the trapped signals no longer terminate the process. At most one
/// trap may be active at a time (signal dispositions are process-wide); `stop()` (or
/// releasing the trap) gives the signals back their previous dispositions, after which a new
/// trap may be made. Commands started by `run` are unaffected: they start with every signal
/// at its default disposition and none blocked, and as they run in sessions of their own, a
/// Ctrl-C in the terminal reaches only this process, which then stops them.
///
/// Thread safety: all members may be used from any thread or task.
public final class SignalTrap: @unchecked Sendable {
  // @unchecked: the mutable state is guarded by `lock`; dispatch sources are thread-safe.
  //
  // Not DispatchSource.makeSignalSource: on Linux, libdispatch installs its own handler
  // asynchronously when the source is first registered (a signal sent right after `resume()`
  // was lost in 2 of 30 runs) and only once per process (after the disposition is restored,
  // a later source never fires). A handler that writes the signal number to a pipe, read by
  // a dispatch read source, has neither problem.

  /// A signal the trap can catch.
  public enum Signal: Int32, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// SIGINT, sent by Ctrl-C.
    case interrupt = 2
    /// SIGTERM, sent by `kill`, systemd or a CI runner that wants the job to end.
    case terminate = 15

    /// The conventional exit status of a program stopped by this signal: 128 + its number
    /// (130 for SIGINT, 143 for SIGTERM).
    public var exitStatus: Int32 { 128 + rawValue }

    /// The signal's name, "SIGINT" or "SIGTERM".
    public var description: String {
      switch self {
      case .interrupt: "SIGINT"
      case .terminate: "SIGTERM"
      }
    }
  }

  /// Each arrival of a trapped signal, in order; it ends when the trap stops.
  public let signals: AsyncStream<Signal>

  private let continuation: AsyncStream<Signal>.Continuation
  private let lock = NSLock()
  private var reader: (any DispatchSourceRead)?
  private var previous: [(Int32, sigaction)] = []

  /// Starts trapping `trapped`: from this call until `stop()`, those signals are reported on
  /// `signals` instead of taking their default action.
  ///
  /// - Precondition: no other `SignalTrap` is active.
  public init(_ trapped: Set<Signal> = [.interrupt, .terminate]) {
    (signals, continuation) = AsyncStream.makeStream(of: Signal.self)
    precondition(trapActivity.claim(), "only one SignalTrap may be active at a time")
    let pipe = signalPipe
    // Bytes left by a signal that raced with an earlier trap's stop() are stale.
    drain(pipe.read)

    let source = DispatchSource.makeReadSource(
      fileDescriptor: pipe.read, queue: DispatchQueue(label: "bisect-deploy.signal-trap"))
    source.setEventHandler { [continuation] in
      for number in drain(pipe.read) {
        if let signal = Signal(rawValue: Int32(number)) { continuation.yield(signal) }
      }
    }
    source.resume()
    reader = source

    for signal in trapped.sorted(by: { $0.rawValue < $1.rawValue }) {
      var action = sigaction()
      #if canImport(Darwin)
        action.__sigaction_u.__sa_handler = forwardSignal
      #else
        action.__sigaction_handler.sa_handler = forwardSignal
      #endif
      sigemptyset(&action.sa_mask)
      action.sa_flags = SA_RESTART
      var old = sigaction()
      sigaction(signal.rawValue, &action, &old)
      previous.append((signal.rawValue, old))
    }
  }

  /// Stops trapping: gives the signals back the dispositions they had before the trap and
  /// ends `signals`. Calling it again does nothing.
  public func stop() {
    lock.lock()
    defer { lock.unlock() }
    guard let reader else { return }
    for (number, var old) in previous { sigaction(number, &old, nil) }
    previous = []
    reader.cancel()
    self.reader = nil
    continuation.finish()
    trapActivity.release()
  }

  deinit { stop() }
}

/// The pipe from the signal handler to the active trap: created once, never closed, so the
/// handler can never write into a descriptor that was closed and reused.
private let signalPipe: (read: Int32, write: Int32) = {
  var ends: [Int32] = [-1, -1]
  guard pipe(&ends) == 0 else { fatalError("cannot create the signal pipe: errno \(errno)") }
  for end in ends {
    _ = fcntl(end, F_SETFD, FD_CLOEXEC)
    _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
  }
  return (ends[0], ends[1])
}()

/// The signal handler: only async-signal-safe work. `signalPipe` was initialised before the
/// handler was installed, so reading it is a plain load. A full pipe drops the byte, which
/// only merges signals that arrived in a burst.
private func forwardSignal(_ number: Int32) {
  let saved = errno
  var byte = UInt8(truncatingIfNeeded: number)
  _ = write(signalPipe.write, &byte, 1)
  errno = saved
}

/// Reads whatever is waiting in the non-blocking pipe end `fd`.
@discardableResult
private func drain(_ fd: Int32) -> [UInt8] {
  var bytes: [UInt8] = []
  var buffer = [UInt8](repeating: 0, count: 64)
  while true {
    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    if count < 0 && errno == EINTR { continue }
    guard count > 0 else { return bytes }
    bytes += buffer[..<count]
  }
}

/// Whether a trap is active; a process has one set of signal dispositions.
private final class TrapActivity: @unchecked Sendable {
  private let lock = NSLock()
  private var active = false

  func claim() -> Bool {
    lock.withLock {
      if active { return false }
      active = true
      return true
    }
  }

  func release() { lock.withLock { active = false } }
}

private let trapActivity = TrapActivity()
