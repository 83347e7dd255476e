import Foundation
import Runner
import TestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A temporary directory to run commands in, with a log file inside it.
struct Workspace {
  let directory: TemporaryDirectory

  init() throws {
    directory = try TemporaryDirectory("runner-test")
  }

  var url: URL { directory.url }
  var log: URL { url.appendingPathComponent("step.log") }

  func file(_ name: String) -> URL { url.appendingPathComponent(name) }

  /// A spec that runs `command` here, with only PATH and `environment` in its environment.
  func spec(
    _ command: String, environment: [String: String] = [:], timeout: Duration? = nil,
    grace: Duration = .milliseconds(300)
  ) -> CommandSpec {
    CommandSpec(
      command: command,
      environment: ["PATH": "/usr/bin:/bin"].merging(environment) { $1 },
      workingDirectory: url, logFile: log, timeout: timeout, gracePeriod: grace)
  }

  func logText() throws -> String { try String(contentsOf: log, encoding: .utf8) }

  /// The pids written one per line to `name`.
  func pids(in name: String) throws -> [Int32] {
    try String(contentsOf: file(name), encoding: .utf8)
      .split(separator: "\n").compactMap { Int32($0) }
  }

  /// Waits for `name` to hold `count` lines (a command reporting its children); throws after
  /// 60 s, which only a command that never wrote them takes, even on a loaded machine.
  func waitForLines(in name: String, count: Int) async throws {
    let deadline = ContinuousClock.now + .seconds(60)
    while ContinuousClock.now < deadline {
      if let text = try? String(contentsOf: file(name), encoding: .utf8),
        text.split(separator: "\n").count >= count
      {
        return
      }
      try await Task.sleep(for: .milliseconds(10))
    }
    throw WaitTimedOut(description: "\(name) did not hold \(count) lines within 60 s")
  }
}

/// A wait for an event that never came.
struct WaitTimedOut: Error, CustomStringConvertible {
  var description: String
}

/// One entry of /proc: a process's state letter and process group.
struct ProcessStatus {
  var pid: Int32
  var state: Character
  var group: Int32

  var isAlive: Bool { state != "Z" && state != "X" }

  /// Reads `/proc/<pid>/stat` (`pid (comm) state ppid pgrp ...`); nil once the process is
  /// gone.
  init?(pid: Int32) {
    guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else {
      return nil
    }
    let text = String(decoding: data, as: UTF8.self)
    guard let paren = text.lastIndex(of: ")") else { return nil }
    let fields = text[text.index(after: paren)...].split(separator: " ")
    guard fields.count > 3, let state = fields[0].first, let group = Int32(fields[2]) else {
      return nil
    }
    self.pid = pid
    self.state = state
    self.group = group
  }
}

/// Whether /proc shows this process. Without it every process would look gone, so the checks
/// that nothing survives record an issue instead of passing.
let procIsReadable = ProcessStatus(pid: getpid()) != nil

/// Every process in group `group` that is not a zombie, found by scanning /proc.
///
/// `kill(-group, 0)` is not enough: it also sees zombies, and an orphaned grandchild stays a
/// zombie forever under a container init that does not reap (as on the CI machines).
func liveProcesses(inGroup group: Int32) -> [Int32] {
  let names: [String]
  do {
    names = try FileManager.default.contentsOfDirectory(atPath: "/proc")
  } catch {
    Issue.record("/proc cannot be listed (\(error)): cannot check what runs in group \(group)")
    return []
  }
  guard procIsReadable else {
    Issue.record("/proc/\(getpid())/stat cannot be read: cannot check what runs in group \(group)")
    return []
  }
  return names.compactMap { Int32($0) }.compactMap { ProcessStatus(pid: $0) }
    .filter { $0.group == group && $0.isAlive }.map(\.pid)
}

/// Whether `pid` is a live (not zombie) process. Where /proc cannot be read it records an
/// issue and answers true: the check cannot run, so it must not pass.
func isAlive(_ pid: Int32) -> Bool {
  guard procIsReadable else {
    Issue.record("/proc/\(getpid())/stat cannot be read: cannot check whether \(pid) runs")
    return true
  }
  return ProcessStatus(pid: pid)?.isAlive ?? false
}

/// Seconds in a `Duration`, for comparisons.
func seconds(_ duration: Duration) -> Double {
  Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// Runs jobs on a dispatch queue whose threads block SIGINT, SIGTERM and SIGHUP, like the
/// threads libdispatch and Swift concurrency use on Linux, so a test can check that a child
/// spawned from such a thread does not inherit the mask.
final class SignalBlockingExecutor: TaskExecutor, @unchecked Sendable {
  // @unchecked: the queue is the only state and is thread-safe.
  private let queue = DispatchQueue(label: "runner-tests.signal-blocking")

  func enqueue(_ job: consuming ExecutorJob) {
    let job = UnownedJob(job)
    queue.async {
      var blocked = sigset_t()
      sigemptyset(&blocked)
      for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&blocked, signal) }
      pthread_sigmask(SIG_BLOCK, &blocked, nil)
      job.runSynchronously(on: self.asUnownedTaskExecutor())
    }
  }
}

/// The signals the calling thread blocks, from /proc.
func blockedSignalsOfCurrentThread() -> UInt64? {
  guard let data = FileManager.default.contents(atPath: "/proc/thread-self/status") else {
    return nil
  }
  for line in String(decoding: data, as: UTF8.self).split(separator: "\n")
  where line.hasPrefix("SigBlk:") {
    return UInt64(line.dropFirst("SigBlk:".count).trimmingCharacters(in: .whitespaces), radix: 16)
  }
  return nil
}
