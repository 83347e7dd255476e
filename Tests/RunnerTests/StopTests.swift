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
    let spec = workspace.spec(stubbornGroup, timeout: .milliseconds(300), grace: .milliseconds(300))
    let result = try await run(spec)
    #expect(result.termination == .timedOut)
    let group = try #require(result.processGroup)
    let children = try workspace.pids(in: "children.pid")
    #expect(children.count == 2)
    #expect(children.allSatisfy { !isAlive($0) })
    #expect(liveProcesses(inGroup: group).isEmpty)
    // timeout + grace, plus scheduling slack on a busy machine.
    #expect(seconds(result.duration) >= 0.6)
    #expect(seconds(result.duration) < 2.5)
    let log = try workspace.logText()
    #expect(log.contains("timed out"))
    #expect(log.contains("SIGKILL"))
  }

  @Test("a timeout does not wait out the grace period once the group has died")
  func timeoutStopsPoliteGroupEarly() async throws {
    let workspace = try Workspace()
    let spec = workspace.spec(politeGroup, timeout: .milliseconds(300), grace: .seconds(3))
    let result = try await run(spec)
    #expect(result.termination == .timedOut)
    let group = try #require(result.processGroup)
    #expect(try workspace.pids(in: "children.pid").allSatisfy { !isAlive($0) })
    #expect(liveProcesses(inGroup: group).isEmpty)
    #expect(seconds(result.duration) >= 0.3)
    #expect(seconds(result.duration) < 2)
    #expect(!(try workspace.logText()).contains("SIGKILL"))
  }

  @Test("cancelling the task stops the group promptly and returns .cancelled")
  func cancellationStopsGroup() async throws {
    let workspace = try Workspace()
    let spec = workspace.spec(politeGroup, grace: .seconds(3))
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
    // Noticed within ~100 ms, and no wait for the 3 s grace: TERM was enough.
    #expect(seconds(reaction) < 1)
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
