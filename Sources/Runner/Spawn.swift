import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// An open, append-only log file descriptor, owned by one `run` call and closed in `deinit`.
final class LogFile {
  let url: URL
  let descriptor: Int32

  init(_ url: URL) throws(RunnerError) {
    self.url = url
    // O_CLOEXEC: the child gets the log only as its fds 1 and 2, never under this number.
    let fd = open(url.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw RunnerError.cannotOpenLog(path: url.path, code: errno) }
    descriptor = fd
  }

  deinit { close(descriptor) }

  /// Appends `line` on a line of its own. Best effort: a full disk must not stop the step.
  func writeLine(_ line: String) {
    var text = line + "\n"
    if !endsWithNewline() { text = "\n" + text }
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
      let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
      if written < 0 && errno == EINTR { continue }
      guard written > 0 else { return }
      bytes = bytes.dropFirst(written)
    }
  }

  // The command's output may end without a newline; the runner's lines must not be glued
  // to it.
  private func endsWithNewline() -> Bool {
    var info = stat()
    guard fstat(descriptor, &info) == 0, info.st_size > 0 else { return true }
    let reader = open(url.path, O_RDONLY | O_CLOEXEC)
    guard reader >= 0 else { return true }
    defer { close(reader) }
    var last: UInt8 = 0
    guard pread(reader, &last, 1, info.st_size - 1) == 1 else { return true }
    return last == UInt8(ascii: "\n")
  }
}

/// A started command: its shell, which leads its process group, and this process's end of
/// the group's lifeline (see `spawnShell`).
struct SpawnedShell {
  let pid: pid_t
  let lifeline: Int32

  /// Tells the group's watchdog that this process saw the command end: it leaves the group
  /// alone (a server a deploy started in the background lives on), and closes the lifeline.
  /// Call once, on every path.
  func release() {
    var byte = UInt8(ascii: "\n")
    // MSG_NOSIGNAL: after a timeout the group, watchdog included, is dead, and a write to a
    // socket nobody reads would otherwise raise SIGPIPE and kill this process.
    while send(lifeline, &byte, 1, Int32(MSG_NOSIGNAL)) < 0 && errno == EINTR {}
    close(lifeline)
  }
}

/// The shell that runs a command behind its watchdog: a background subshell waits on the
/// lifeline (fd 3) and, when it closes without a line (this process died, even by SIGKILL,
/// since the kernel closes its end), kills the whole process group; then fd 3 is closed and
/// the command runs as `/bin/sh -c "$1"` in the same process (the group leader). So a deploy
/// never outlives its hunt unwatched: docs/fleet.md, docs/safety.md.
let watchedShellScript = """
  ( read -r _ <&3 || kill -KILL 0 ) &
  exec 3<&-
  exec /bin/sh -c "$1"
  """

/// Starts `/bin/sh -c spec.command` in a new session (so in a process group of its own,
/// whose id is the returned pid), with stdin from /dev/null (or `spec.standardInput`), stdout
/// and stderr appended to `log`, every signal at its default disposition and none blocked, and
/// no other inherited file descriptor, behind a watchdog in the same group that kills the
/// group if this process dies before calling `SpawnedShell.release()`.
func spawnShell(_ spec: CommandSpec, log: LogFile) throws(RunnerError) -> SpawnedShell {
  let directory = spec.workingDirectory.path
  let failure = { (code: Int32) in
    RunnerError.cannotStart(command: spec.command, workingDirectory: directory, code: code)
  }
  var isDirectory: ObjCBool = false
  guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory),
    isDirectory.boolValue
  else { throw RunnerError.workingDirectoryMissing(path: directory) }
  let entries = try environmentEntries(spec.environment)

  // The lifeline: a socket pair (so that writing to a dead reader is an error, not SIGPIPE).
  // The child reads one end as fd 3; this process keeps the other, close-on-exec so that no
  // other child inherits it (which would keep the group alive past our death).
  var ends: [Int32] = [-1, -1]
  guard makeCloseOnExecSocketPair(&ends) == 0 else { throw failure(errno) }
  // Above 3, so that the dup2 below really copies (and so drops close-on-exec).
  let reading = fcntl(ends[0], F_DUPFD_CLOEXEC, 10)
  close(ends[0])
  guard reading >= 0 else {
    close(ends[1])
    throw failure(errno)
  }
  defer { close(reading) }
  var started = false
  defer { if !started { close(ends[1]) } }

  #if canImport(Darwin)
    var actions: posix_spawn_file_actions_t? = nil
    var attributes: posix_spawnattr_t? = nil
  #else
    var actions = posix_spawn_file_actions_t()
    var attributes = posix_spawnattr_t()
  #endif
  guard posix_spawn_file_actions_init(&actions) == 0 else { throw failure(ENOMEM) }
  defer { posix_spawn_file_actions_destroy(&actions) }
  guard posix_spawnattr_init(&attributes) == 0 else { throw failure(ENOMEM) }
  defer { posix_spawnattr_destroy(&attributes) }

  // The path is copied by the call.
  var code = posix_spawn_file_actions_addopen(&actions, 0, spec.standardInput?.path ?? "/dev/null", O_RDONLY, 0)
  if code == 0 { code = posix_spawn_file_actions_adddup2(&actions, log.descriptor, 1) }
  if code == 0 { code = posix_spawn_file_actions_adddup2(&actions, log.descriptor, 2) }
  if code == 0 { code = posix_spawn_file_actions_adddup2(&actions, reading, 3) }
  #if canImport(Darwin)
    if code == 0 { code = posix_spawn_file_actions_addchdir_np(&actions, directory) }
    let flags =
      POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK
      | POSIX_SPAWN_CLOEXEC_DEFAULT
  #else
    if code == 0 { code = glibcAddChdir(&actions, directory) }
    // Other modules may open descriptors without O_CLOEXEC; close them all in the child.
    // Before glibc 2.34 this is skipped and O_CLOEXEC is all there is.
    _ = glibcAddCloseFrom(&actions, 4)
    let flags = glibcSpawnSetsid | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK
  #endif
  guard code == 0 else { throw failure(code) }
  code = posix_spawnattr_setflags(&attributes, Int16(flags))
  // Ignored signals survive exec, and the threads of libdispatch and Swift concurrency block
  // SIGINT, SIGTERM and more: without the reset a child could ignore or hold back the SIGTERM
  // meant to stop it.
  var all = sigset_t()
  sigfillset(&all)
  if code == 0 { code = posix_spawnattr_setsigdefault(&attributes, &all) }
  var none = sigset_t()
  sigemptyset(&none)
  if code == 0 { code = posix_spawnattr_setsigmask(&attributes, &none) }
  guard code == 0 else { throw failure(code) }

  let arguments = ["/bin/sh", "-c", watchedShellScript, "bisect-deploy", spec.command]
  let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
  let envp: [UnsafeMutablePointer<CChar>?] = entries.map { strdup($0) } + [nil]
  defer {
    for pointer in argv { free(pointer) }
    for pointer in envp { free(pointer) }
  }
  var pid = pid_t()
  code = posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv, envp)
  guard code == 0 else { throw failure(code) }
  started = true
  return SpawnedShell(pid: pid, lifeline: ends[1])
}

/// A connected pair of Unix stream sockets, both close-on-exec; 0 or -1 with `errno`.
private func makeCloseOnExecSocketPair(_ ends: inout [Int32]) -> Int32 {
  #if canImport(Darwin)
    guard socketpair(AF_UNIX, SOCK_STREAM, 0, &ends) == 0 else { return -1 }
    for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
    return 0
  #else
    // SOCK_CLOEXEC sets the flag in the call: no other thread's child can inherit the ends.
    let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
    return socketpair(AF_UNIX, type, 0, &ends)
  #endif
}

/// `NAME=value` strings in a stable order, after checking that each can be passed on.
func environmentEntries(_ environment: [String: String]) throws(RunnerError) -> [String] {
  var entries = [String]()
  for (name, value) in environment.sorted(by: { $0.key < $1.key }) {
    guard !name.isEmpty, !name.contains("="), !name.contains("\0"), !value.contains("\0") else {
      throw .invalidEnvironment(name: name)
    }
    entries.append("\(name)=\(value)")
  }
  return entries
}

#if !canImport(Darwin)
  // The Glibc module imports spawn.h without _GNU_SOURCE, which hides the GNU extensions
  // below; their values and symbols are stable parts of glibc's ABI.

  /// POSIX_SPAWN_SETSID (glibc 2.26): the child calls setsid().
  private let glibcSpawnSetsid: Int32 = 0x80

  private typealias AddChdir =
    @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) ->
    Int32
  private typealias AddCloseFrom =
    @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

  /// posix_spawn_file_actions_addchdir_np (glibc 2.29); ENOSYS when missing.
  private func glibcAddChdir(_ actions: inout posix_spawn_file_actions_t, _ path: String) -> Int32 {
    guard let symbol = glibcSymbol("posix_spawn_file_actions_addchdir_np") else { return ENOSYS }
    return unsafeBitCast(symbol, to: AddChdir.self)(&actions, path)
  }

  /// posix_spawn_file_actions_addclosefrom_np (glibc 2.34); ENOSYS when missing.
  private func glibcAddCloseFrom(_ actions: inout posix_spawn_file_actions_t, _ lowest: Int32)
    -> Int32
  {
    guard let symbol = glibcSymbol("posix_spawn_file_actions_addclosefrom_np") else {
      return ENOSYS
    }
    return unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, lowest)
  }

  private func glibcSymbol(_ name: String) -> UnsafeMutableRawPointer? {
    guard let handle = dlopen(nil, RTLD_NOW) else { return nil }
    // libc stays loaded, so the address outlives the handle.
    defer { dlclose(handle) }
    return dlsym(handle, name)
  }
#endif
