import Foundation
import Runner
import Testing

#if canImport(Glibc)
  import Glibc
#endif

@Suite("Running a command")
struct RunTests {
  @Test("the shell's exit status passes through", arguments: [0, 1, 2, 125, 126, 127, 128, 255])
  func exitStatusPassesThrough(status: Int32) async throws {
    let workspace = try Workspace()
    let result = try await run(workspace.spec("exit \(status)"))
    #expect(result.termination == .exited(status))
    #expect(result.succeeded == (status == 0))
  }

  @Test("a shell killed by a signal reports the signal")
  func signalIsReported() async throws {
    let workspace = try Workspace()
    #expect(try await run(workspace.spec("kill -KILL $$")).termination == .signalled(SIGKILL))
    #expect(try await run(workspace.spec("kill -TERM $$")).termination == .signalled(SIGTERM))
  }

  @Test("the command starts with default signal dispositions even where ours ignore them")
  func signalDispositionsAreReset() async throws {
    // SIGHUP rather than SIGTERM, so the SignalTrap test running alongside is undisturbed.
    let previous = signal(SIGHUP, SIG_IGN)
    defer { signal(SIGHUP, previous) }
    let workspace = try Workspace()
    let result = try await run(workspace.spec("kill -HUP $$; exit 0"))
    #expect(result.termination == .signalled(SIGHUP))
  }

  @Test("the command starts with no signal blocked or ignored, even from a blocking thread")
  func signalMaskIsEmpty() async throws {
    // Threads of libdispatch and Swift concurrency block SIGINT and SIGTERM among others; a
    // child inheriting that mask could not be stopped with SIGTERM.
    let workspace = try Workspace()
    // Builtins only: the shell blocks signals itself while it waits for a child.
    let spec = workspace.spec(
      #"while read -r name value; do case $name in SigBlk:|SigIgn:) echo "$name $value";; esac; done < /proc/$$/status"#
    )
    let (termination, spawnerMask) = try await withTaskExecutorPreference(SignalBlockingExecutor()) {
      let mask = blockedSignalsOfCurrentThread()
      return (try await run(spec).termination, mask)
    }
    // The spawning thread did block SIGTERM (bit 14). Debian's dash clears its own mask at
    // startup, so with it this part passes even without POSIX_SPAWN_SETSIGMASK; it guards a
    // /bin/sh that does not (bash), and the SigIgn part guards POSIX_SPAWN_SETSIGDEF.
    try #require(spawnerMask.map { $0 & (1 << 14) != 0 } == true)
    #expect(termination == .exited(0))
    var masks: [String: UInt64] = [:]
    for line in try workspace.logText().split(separator: "\n") {
      let fields = line.split(separator: " ")
      if fields.count == 2, let mask = UInt64(fields[1], radix: 16) { masks[String(fields[0])] = mask }
    }
    // Signals 1-31 only: glibc's posix_spawn sets its internal signals (32, 33) to SIG_IGN,
    // and a program's libc installs its own handlers for them.
    let standard: UInt64 = 0x7fff_ffff
    #expect(masks["SigBlk:"].map { $0 & standard } == 0)
    #expect(masks["SigIgn:"].map { $0 & standard } == 0)
  }

  @Test("the command gets exactly the given environment")
  func environmentReachesCommand() async throws {
    let workspace = try Workspace()
    let spec = workspace.spec(
      #"printf 'commit=%s\n' "$BISECT_COMMIT"; [ -z "${HOME+set}" ] && echo no-home"#,
      environment: ["BISECT_COMMIT": "0123abcd"])
    #expect(try await run(spec).termination == .exited(0))
    let log = try workspace.logText()
    #expect(log.contains("commit=0123abcd\n"))
    #expect(log.contains("no-home\n"))
  }

  @Test("shell syntax in an environment value is never executed")
  func environmentValuesAreData() async throws {
    let workspace = try Workspace()
    let marker = workspace.file("pwned")
    let precious = workspace.file("precious")
    try Data("keep".utf8).write(to: precious)
    let evil = "$(touch \(marker.path)); `touch \(marker.path)`; rm -rf \(precious.path)"
    let spec = workspace.spec(
      #"echo $EVIL; echo "$EVIL"; printf '%s\n' "$EVIL" > value.txt"#,
      environment: ["EVIL": evil])
    #expect(try await run(spec).termination == .exited(0))
    #expect(!FileManager.default.fileExists(atPath: marker.path))
    #expect(FileManager.default.fileExists(atPath: precious.path))
    #expect(try String(contentsOf: workspace.file("value.txt"), encoding: .utf8) == evil + "\n")
  }

  @Test("stdout and stderr are both appended to the log, in order")
  func bothStreamsReachLog() async throws {
    let workspace = try Workspace()
    try Data("earlier run\n".utf8).write(to: workspace.log)
    let result = try await run(workspace.spec("echo to-stdout; echo to-stderr >&2; echo again"))
    #expect(result.logFile == workspace.log)
    let log = try workspace.logText()
    #expect(log.hasPrefix("earlier run\n"))
    #expect(log.contains("to-stdout\nto-stderr\nagain\n"))
  }

  @Test("the header names the command, directory and BISECT variables, never secrets")
  func headerHidesSecrets() async throws {
    let workspace = try Workspace()
    let spec = workspace.spec(
      "true",
      environment: [
        "BISECT_COMMIT": "0123abcd", "BISECT_TOKEN": "bisect-secret-value",
        "API_TOKEN": "api-secret-value", "DB_PASSWORD": "hunter2",
      ])
    _ = try await run(spec)
    let log = try workspace.logText()
    let header = try #require(log.split(separator: "\n").first)
    #expect(header.contains("run: true"))
    #expect(header.contains("in: \(workspace.url.path)"))
    #expect(header.contains("BISECT_COMMIT=0123abcd"))
    #expect(header.contains("BISECT_TOKEN=***"))
    for leak in ["bisect-secret-value", "api-secret-value", "hunter2", "API_TOKEN", "PATH="] {
      #expect(!log.contains(leak))
    }
  }

  @Test("stdin is /dev/null and no descriptor but 0, 1 and 2 reaches the command")
  func onlyStandardDescriptorsAreInherited() async throws {
    let workspace = try Workspace()
    // Opened without O_CLOEXEC on purpose: the runner must close it in the child anyway.
    let stray = open(workspace.url.path, O_RDONLY)
    try #require(stray >= 0)
    defer { close(stray) }
    // Builtins and no redirection: `$(...)` or `> file` would open descriptors in the shell.
    // `[ -e ]` drops the descriptor the glob itself used to read the directory.
    let spec = workspace.spec(
      #"readlink /proc/$$/fd/0; for fd in /proc/$$/fd/*; do [ -e $fd ] && echo "open: ${fd##*/}"; done; true"#
    )
    #expect(try await run(spec).termination == .exited(0))
    let lines = try workspace.logText().split(separator: "\n")
    #expect(lines.contains("/dev/null"))
    #expect(lines.filter { $0.hasPrefix("open: ") } == ["open: 0", "open: 1", "open: 2"])
  }

  @Test("the command runs in the working directory")
  func workingDirectoryIsUsed() async throws {
    let workspace = try Workspace()
    #expect(try await run(workspace.spec("touch made-here")).termination == .exited(0))
    #expect(FileManager.default.fileExists(atPath: workspace.file("made-here").path))
  }

  @Test("the shell's normal exit leaves its background processes running")
  func backgroundProcessSurvivesNormalExit() async throws {
    let workspace = try Workspace()
    let result = try await run(workspace.spec("sleep 300 & echo $! > server.pid"))
    let group = try #require(result.processGroup)
    defer { kill(-group, SIGKILL) }
    #expect(result.termination == .exited(0))
    #expect(seconds(result.duration) < 5)
    let server = try #require(try workspace.pids(in: "server.pid").first)
    // Still running a while later: a SIGKILL takes a moment to show.
    try await Task.sleep(for: .milliseconds(200))
    #expect(isAlive(server))
    #expect(ProcessStatus(pid: server)?.group == group)
  }

  @Test("a timeout longer than the command does not get in the way")
  func commandFinishingBeforeTimeout() async throws {
    let workspace = try Workspace()
    let result = try await run(workspace.spec("exit 3", timeout: .seconds(10)))
    #expect(result.termination == .exited(3))
    #expect(seconds(result.duration) < 5)
  }

  @Test("a missing working directory is reported with its path")
  func missingWorkingDirectory() async throws {
    let workspace = try Workspace()
    var spec = workspace.spec("true")
    spec.workingDirectory = workspace.file("absent")
    await #expect(throws: RunnerError.workingDirectoryMissing(path: workspace.file("absent").path)) {
      try await run(spec)
    }
  }

  @Test("a log in a missing directory is reported with its path")
  func unopenableLog() async throws {
    let workspace = try Workspace()
    var spec = workspace.spec("true")
    spec.logFile = workspace.file("absent/step.log")
    await #expect(throws: RunnerError.cannotOpenLog(path: spec.logFile.path, code: ENOENT)) {
      try await run(spec)
    }
  }

  @Test("an environment name that cannot be passed on is rejected")
  func invalidEnvironmentName() async throws {
    let workspace = try Workspace()
    let spec = workspace.spec("true", environment: ["A=B": "c"])
    await #expect(throws: RunnerError.invalidEnvironment(name: "A=B")) { try await run(spec) }
  }
}
