import Foundation
import Runner
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A command whose group holds a sleeping grandchild and a grandchild ignoring SIGTERM,
/// writing their pids to `children.pid`.
private let stubbornGroup = """
  sleep 300 & echo $! >> children.pid
  sh -c 'trap "" TERM; sleep 300' & echo $! >> children.pid
  wait
  """

/// A command whose group dies on SIGTERM.
private let politeGroup = "sleep 300 & echo $! >> children.pid; sleep 300 & echo $! >> children.pid; wait"

@Suite("Stopping a command")
struct StopTests {
  @Test("a timeout stops the whole group, waiting the grace period for a process ignoring TERM")
  func timeoutKillsStubbornGroup() async throws {
    let workspace = try Workspace()
    // A timeout long enough for the shell to start both children first, even on a loaded machine.
    let spec = workspace.spec(stubbornGroup, timeout: .seconds(2), grace: .milliseconds(300))
    let result = try await run(spec)
    #expect(result.termination == .timedOut)
    let group = try #require(result.processGroup)
    let children = try workspace.pids(in: "children.pid")
    #expect(children.count == 2)
    #expect(children.allSatisfy { !isAlive($0) })
    #expect(liveProcesses(inGroup: group).isEmpty)
    // No sooner than timeout + grace, and not the 300 s of the sleeps: 2.3 s, with slack for a
    // loaded 2-core machine (speed is measured in benchmarks, not here).
    #expect(seconds(result.duration) >= 2.3)
    #expect(seconds(result.duration) < 15)
    let log = try workspace.logText()
    #expect(log.contains("timed out"))
    #expect(log.contains("SIGKILL"))
  }

  @Test("a timeout does not wait out the grace period once the group has died")
  func timeoutStopsPoliteGroupEarly() async throws {
    let workspace = try Workspace()
    // The children have 2 s to start; a grace period far longer than any scheduling delay, so
    // that ending well before it is the behaviour, not luck on an idle machine.
    let spec = workspace.spec(politeGroup, timeout: .seconds(2), grace: .seconds(120))
    let result = try await run(spec)
    #expect(result.termination == .timedOut)
    let group = try #require(result.processGroup)
    #expect(try workspace.pids(in: "children.pid").allSatisfy { !isAlive($0) })
    #expect(liveProcesses(inGroup: group).isEmpty)
    #expect(try workspace.pids(in: "children.pid").count == 2)
    #expect(seconds(result.duration) >= 2)
    #expect(seconds(result.duration) < 15)
    #expect(!(try workspace.logText()).contains("SIGKILL"))
  }

  @Test("cancelling the task stops the group promptly and returns .cancelled")
  func cancellationStopsGroup() async throws {
    let workspace = try Workspace()
    let spec = workspace.spec(politeGroup, grace: .seconds(120))
    let task = Task { try await run(spec) }
    try await workspace.waitForLines(in: "children.pid", count: 2)
    let cancelled = ContinuousClock.now
    task.cancel()
    let result = try await task.value
    let reaction = ContinuousClock.now - cancelled
    #expect(result.termination == .cancelled)
    let group = try #require(result.processGroup)
    #expect(try workspace.pids(in: "children.pid").allSatisfy { !isAlive($0) })
    #expect(liveProcesses(inGroup: group).isEmpty)
    // Noticed within about 50 ms (run's promise), and no wait for the 120 s grace: TERM was
    // enough. Measured from the cancellation, with slack for a loaded 2-core machine.
    #expect(seconds(reaction) < 10)
  }

  @Test("cancelling the task kills a process ignoring TERM after the grace period")
  func cancellationKillsStubbornGroup() async throws {
    let workspace = try Workspace()
    let spec = workspace.spec(stubbornGroup, grace: .milliseconds(300))
    let task = Task { try await run(spec) }
    try await workspace.waitForLines(in: "children.pid", count: 2)
    task.cancel()
    let result = try await task.value
    #expect(result.termination == .cancelled)
    let group = try #require(result.processGroup)
    #expect(try workspace.pids(in: "children.pid").allSatisfy { !isAlive($0) })
    #expect(liveProcesses(inGroup: group).isEmpty)
    #expect(try workspace.logText().contains("SIGKILL"))
  }

  @Test("a command is not started in a task that is already cancelled")
  func cancelledTaskStartsNothing() async throws {
    let workspace = try Workspace()
    let spec = workspace.spec("touch started")
    let result = try await Task {
      withUnsafeCurrentTask { $0?.cancel() }
      return try await run(spec)
    }.value
    #expect(result.termination == .cancelled)
    #expect(result.processGroup == nil)
    #expect(!FileManager.default.fileExists(atPath: workspace.file("started").path))
  }

  @Test("with .finish a command runs to its end despite cancellation")
  func finishIgnoresCancellation() async throws {
    let workspace = try Workspace()
    let spec = workspace.spec("touch started; sleep 0.3; echo finished; exit 7")
    let task = Task {
      withUnsafeCurrentTask { $0?.cancel() }
      return try await run(spec, whenCancelled: .finish)
    }
    let result = try await task.value
    #expect(result.termination == .exited(7))
    #expect(try workspace.logText().contains("finished\n"))
  }
}
