import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Why the runner could not run a command. Each case names what to fix.
public enum RunnerError: Error, Hashable, LocalizedError {
  /// The log file could not be opened for appending; `code` is the errno value.
  case cannotOpenLog(path: String, code: Int32)
  /// The working directory does not exist or is not a directory.
  case workingDirectoryMissing(path: String)
  /// An environment variable cannot be passed to a process (empty name, `=` or NUL in the
  /// name, NUL in the value).
  case invalidEnvironment(name: String)
  /// posix_spawn failed; `code` is the errno value it returned.
  case cannotStart(command: String, workingDirectory: String, code: Int32)
  /// The shell was reaped by something else in this process (a `waitpid(-1)` or SIGCHLD set
  /// to SIG_IGN elsewhere), so its exit status is lost.
  case lostChild(command: String, processID: Int32)

  /// A message for the user, naming the path, command or variable at fault.
  public var errorDescription: String? {
    switch self {
    case .cannotOpenLog(let path, let code):
      "cannot open log file \(path): \(describe(code))"
    case .workingDirectoryMissing(let path):
      "working directory \(path) does not exist or is not a directory"
    case .invalidEnvironment(let name):
      "environment variable \(name.debugDescription) cannot be passed to a command: names must be"
        + " non-empty without '=' or NUL, values without NUL"
    case .cannotStart(let command, let directory, let code):
      "cannot start /bin/sh -c \(command.debugDescription) in \(directory): \(describe(code))"
    case .lostChild(let command, let pid):
      "lost track of process \(pid) running \(command.debugDescription): it was reaped elsewhere"
        + " in this process"
    }
  }
}

private func describe(_ code: Int32) -> String {
  String(cString: strerror(code))
}
