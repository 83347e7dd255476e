import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// What `waitpid` said about the shell.
enum ChildState {
  case running
  case ended(CommandResult.Termination)
  /// Nothing to wait for: something else in this process reaped the child.
  case lost
}

/// Reaps `pid` if it has ended, without blocking.
func reapIfEnded(_ pid: pid_t) -> ChildState {
  var status: Int32 = 0
  while true {
    let result = waitpid(pid, &status, WNOHANG)
    if result == pid { return .ended(termination(fromWaitStatus: status)) }
    if result == 0 { return .running }
    if errno == EINTR { continue }
    return .lost
  }
}

/// Decodes a `waitpid` status (Swift does not import the WIFEXITED family of macros).
func termination(fromWaitStatus status: Int32) -> CommandResult.Termination {
  let signal = status & 0x7f
  return signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
}

/// How stopping a process group went.
struct Teardown {
  /// Whether some process of the group outlived the grace period and got SIGKILL.
  var neededKill: Bool
  /// Whether a process of the group was still alive after SIGKILL and the wait that
  /// follows it (one stuck in uninterruptible sleep, or one that moved to another group
  /// is not seen).
  var survivors: Bool
  /// Whether the leader (the shell) was reaped.
  var reapedLeader: Bool
}

/// Stops the process group led by `leader`, a child of ours that has not been reaped: SIGTERM
/// to the group, up to `gracePeriod` for it to empty, SIGKILL to the group, then reaps the
/// leader. Run it in a task that is not cancelled: its waits must really wait.
///
/// The leader is reaped last on purpose: while it is an unreaped zombie its pid, and with it
/// the group id, cannot be reused, so the signals cannot reach an unrelated group.
func stopProcessGroup(leader: pid_t, gracePeriod: Duration) async -> Teardown {
  let clock = ContinuousClock()
  kill(-leader, SIGTERM)
  let graceEnd = clock.now + gracePeriod
  while groupHasLiveMembers(leader), clock.now < graceEnd {
    try? await Task.sleep(for: .milliseconds(10))
  }
  let neededKill = groupHasLiveMembers(leader)
  // Always sent: harmless when only zombies are left (the group id is still ours), and it
  // catches anything the check raced with.
  kill(-leader, SIGKILL)
  // SIGKILL cannot be ignored but takes a moment to act (longer for a process in
  // uninterruptible sleep); wait a bounded time for the group to die.
  let killEnd = clock.now + .seconds(2)
  while groupHasLiveMembers(leader), clock.now < killEnd {
    try? await Task.sleep(for: .milliseconds(5))
  }
  let survivors = groupHasLiveMembers(leader)
  var reaped = false
  while !reaped, clock.now < killEnd + .seconds(1) {
    switch reapIfEnded(leader) {
    case .running: try? await Task.sleep(for: .milliseconds(5))
    case .ended, .lost: reaped = true
    }
  }
  return Teardown(neededKill: neededKill, survivors: survivors, reapedLeader: reaped)
}

/// Whether any process of group `group` is alive (zombies do not count).
///
/// `kill(-group, 0)` cannot answer this: it also counts zombies, and there is always one
/// (the unreaped leader), plus orphans that a container's init may never reap.
func groupHasLiveMembers(_ group: pid_t) -> Bool {
  #if os(Linux)
    if let found = liveMembersFromProc(group) { return found }
  #endif
  // Without /proc, the leader is all that can be checked: waitid with WNOWAIT tells whether
  // it has ended without reaping it.
  var info = siginfo_t()
  let result = waitid(P_PID, id_t(group), &info, WEXITED | WNOHANG | WNOWAIT)
  #if canImport(Darwin)
    let ended = info.si_pid != 0
  #else
    let ended = info._sifields._sigchld.si_pid != 0
  #endif
  return result == 0 && !ended
}

#if os(Linux)
  /// Scans /proc for a process in `group` that is not a zombie; nil when /proc is unreadable.
  private func liveMembersFromProc(_ group: pid_t) -> Bool? {
    guard let directory = opendir("/proc") else { return nil }
    defer { closedir(directory) }
    while let entry = readdir(directory) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
      }
      guard let pid = Int32(name), let (state, processGroup) = stateAndGroup(of: pid) else {
        continue
      }
      if processGroup == group && state != "Z" && state != "X" { return true }
    }
    return false
  }

  /// The state letter and process group id from `/proc/<pid>/stat`, whose line reads
  /// `pid (comm) state ppid pgrp ...`; comm may itself contain spaces and parentheses.
  private func stateAndGroup(of pid: Int32) -> (Character, Int32)? {
    let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 512)
    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    guard count > 0 else { return nil }
    let text = String(decoding: buffer[..<count], as: UTF8.self)
    guard let close = text.lastIndex(of: ")") else { return nil }
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count >= 3, let state = fields[0].first, let group = Int32(fields[2]) else {
      return nil
    }
    return (state, group)
  }
#endif
