import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Runs `spec.command` as `/bin/sh -c` in a session and process group of its own, with stdin
/// from /dev/null and stdout and stderr appended to `spec.logFile`, and returns how it ended.
///
/// Before starting, one header line is appended to the log: the time, the command, the
/// working directory and the `BISECT_*` variables (secret-looking ones redacted); never the
/// whole environment. A footer line records how the command ended.
///
/// Stopping: when `spec.timeout` expires, or the calling task is cancelled and `response` is
/// `.stop`, the whole process group gets SIGTERM, then SIGKILL after `spec.gracePeriod` if any
/// of it is still alive; the shell is reaped and the result is `.timedOut` or `.cancelled`.
/// Cancellation never throws `CancellationError`, so the caller learns that the command was
/// stopped and can still run its restore step (with `whenCancelled: .finish`). Cancellation is
/// noticed within about 50 ms.
///
/// When the shell exits by itself, the rest of its process group is left alone: a deploy may
/// start a server in the background for the smoke test to use. Such processes stay in group
/// `CommandResult.processGroup` and are the configuration's business. When this process dies
/// before the command ends (even by SIGKILL), a watchdog in the group kills the whole group
/// at once: a command never outlives its hunt unwatched (`spawnShell`).
///
/// The wait polls `waitpid(WNOHANG)` between short `Task.sleep`s, so no thread is blocked.
/// Nothing else in this process may reap children with `waitpid(-1)` or set SIGCHLD to
/// SIG_IGN, or the status is lost (`RunnerError.lostChild`).
///
/// - Throws: `RunnerError` when the log cannot be opened or the command cannot be started.
public func run(
  _ spec: CommandSpec, whenCancelled response: CancellationResponse = .stop
) async throws(RunnerError) -> CommandResult {
  switch response {
  case .stop:
    return try await execute(spec)
  case .finish:
    // A task of its own does not inherit the caller's cancellation. Its result is awaited
    // into a local before anything is built from it (docs/architecture.md).
    let outcome = await Task { () -> Result<CommandResult, RunnerError> in
      do throws(RunnerError) {
        let result = try await execute(spec)
        return .success(result)
      } catch {
        return .failure(error)
      }
    }.value
    return try outcome.get()
  }
}

private func execute(_ spec: CommandSpec) async throws(RunnerError) -> CommandResult {
  let log = try LogFile(spec.logFile)
  log.writeLine(header(for: spec))
  guard !Task.isCancelled else {
    log.writeLine("\(logPrefix()) not started: cancelled")
    return CommandResult(
      termination: .cancelled, duration: .zero, logFile: spec.logFile, processGroup: nil)
  }

  // The command's output is kept within its limit as it comes, and secrets are taken out
  // once it ended (after the runner's last line).
  var keeper = LogKeeper(url: spec.logFile, limit: spec.logLimit, secrets: secretValues(in: spec.environment))
  defer { keeper.redact() }
  let clock = ContinuousClock()
  let start = clock.now
  let shell = try spawnShell(spec, log: log)
  defer { shell.release() }
  let pid = shell.pid
  let deadline = spec.timeout.map { start + $0 }

  // From here on the child exists: every path below reaps it.
  var pause = Duration.milliseconds(2)
  var stopReason: CommandResult.Termination
  while true {
    switch reapIfEnded(pid) {
    case .ended(let termination):
      let duration = clock.now - start
      keeper.enforceLimit()
      log.writeLine("\(logPrefix()) \(termination) after \(seconds(duration))")
      return CommandResult(
        termination: termination, duration: duration, logFile: spec.logFile, processGroup: pid)
    case .lost:
      log.writeLine("\(logPrefix()) lost track of process \(pid)")
      throw RunnerError.lostChild(command: spec.command, processID: pid)
    case .running:
      break
    }
    keeper.enforceLimit()
    let now = clock.now
    if let deadline, now >= deadline {
      stopReason = .timedOut
      break
    }
    if Task.isCancelled {
      stopReason = .cancelled
      break
    }
    let nap = deadline.map { min(pause, $0 - now) } ?? pause
    // Returns at once when the task is cancelled; the loop then notices.
    try? await Task.sleep(for: nap)
    pause = min(pause * 2, .milliseconds(50))
  }

  let grace = spec.gracePeriod
  let teardown = await Task { await stopProcessGroup(leader: pid, gracePeriod: grace) }.value
  let duration = clock.now - start
  var note = "\(logPrefix()) \(stopReason) after \(seconds(duration)): sent SIGTERM to process"
  note += " group \(pid)"
  if teardown.neededKill { note += ", then SIGKILL after \(seconds(grace))" }
  if teardown.survivors { note += "; some processes of the group did not die" }
  if !teardown.reapedLeader { note += "; the shell could not be reaped" }
  keeper.enforceLimit()
  log.writeLine(note)
  return CommandResult(
    termination: stopReason, duration: duration, logFile: spec.logFile, processGroup: pid)
}

private func header(for spec: CommandSpec) -> String {
  let variables = redactedEnvironment(spec.environment.filter { $0.key.hasPrefix("BISECT_") })
    .sorted { $0.key < $1.key }
    .map { "\($0.key)=\($0.value)" }
    .joined(separator: " ")
  let command = spec.command
    .replacingOccurrences(of: "\\", with: "\\\\")
    .replacingOccurrences(of: "\n", with: "\\n")
  return "\(logPrefix()) run: \(command) | in: \(spec.workingDirectory.path) | \(variables)"
}

private func logPrefix() -> String {
  "[bisect-deploy \(Date().formatted(.iso8601))]"
}

private func seconds(_ duration: Duration) -> String {
  let (whole, fraction) = duration.components
  return String(format: "%.3f s", Double(whole) + Double(fraction) / 1e18)
}
