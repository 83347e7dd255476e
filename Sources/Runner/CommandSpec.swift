import Foundation

/// One configured command (deploy, smoke test or restore) and how to run it.
///
/// `command` is fixed text from the configuration file and is run as `/bin/sh -c command`.
/// It must never be built from commit data (ids, subjects, branch names): such data reaches
/// the command only through `environment`, so the shell never parses it as code.
public struct CommandSpec: Sendable, Hashable {
  /// The shell text to run, exactly as written in the configuration.
  public var command: String
  /// The complete environment of the child; nothing is inherited from this process.
  /// Names must be non-empty and contain neither `=` nor NUL; values must not contain NUL.
  public var environment: [String: String]
  /// The directory the command starts in; it must exist.
  public var workingDirectory: URL
  /// How long the command may run before its process group is stopped; nil for no limit.
  public var timeout: Duration?
  /// How long the process group gets between SIGTERM and SIGKILL when it is stopped.
  public var gracePeriod: Duration
  /// Where the command's standard output and standard error are appended. The file is
  /// created (mode 0600, as deploy output may contain secrets) when missing; its directory
  /// must exist.
  public var logFile: URL
  /// The most bytes the log keeps (nil: no limit): past it, the start and the newest output
  /// stay with a note of what was dropped between them.
  public var logLimit: Int?
  /// A file the command reads as its standard input; nil for /dev/null.
  public var standardInput: URL?

  /// Makes a spec; see the properties for the meaning of each argument.
  public init(
    command: String,
    environment: [String: String],
    workingDirectory: URL,
    logFile: URL,
    timeout: Duration? = nil,
    gracePeriod: Duration = .seconds(5),
    logLimit: Int? = defaultLogLimit
  ) {
    self.command = command
    self.environment = environment
    self.workingDirectory = workingDirectory
    self.logFile = logFile
    self.timeout = timeout
    self.gracePeriod = gracePeriod
    self.logLimit = logLimit
  }
}

/// What happened to a command that `run(_:whenCancelled:)` started (or declined to start).
public struct CommandResult: Sendable, Hashable {
  /// How the command ended.
  public enum Termination: Sendable, Hashable, CustomStringConvertible {
    /// The shell exited by itself with this status (0–255).
    case exited(Int32)
    /// The shell was killed by this signal, sent by someone other than the runner.
    case signalled(Int32)
    /// The timeout expired and the runner stopped the process group.
    case timedOut
    /// The calling task was cancelled and the runner stopped the process group (or did not
    /// start the command because the task was already cancelled).
    case cancelled

    /// A short phrase for messages, such as "exited with status 1".
    public var description: String {
      switch self {
      case .exited(let status): "exited with status \(status)"
      case .signalled(let signal): "killed by signal \(signal)"
      case .timedOut: "timed out"
      case .cancelled: "cancelled"
      }
    }
  }

  /// How the command ended.
  public var termination: Termination
  /// Time from starting the command until it was reaped, including any grace period.
  public var duration: Duration
  /// The log file the command wrote to (`CommandSpec.logFile`).
  public var logFile: URL
  /// The id of the command's process group (and session), which is also the shell's pid;
  /// nil when the command was not started. After a normal exit, processes the command left
  /// in the background still belong to this group.
  public var processGroup: Int32?

  /// Makes a result; `run(_:whenCancelled:)` is the usual source of one.
  public init(termination: Termination, duration: Duration, logFile: URL, processGroup: Int32?) {
    self.termination = termination
    self.duration = duration
    self.logFile = logFile
    self.processGroup = processGroup
  }

  /// True when the command exited with status 0.
  public var succeeded: Bool { termination == .exited(0) }
}

/// What `run(_:whenCancelled:)` does when the calling task is cancelled.
public enum CancellationResponse: Sendable, Hashable {
  /// Stop the process group (SIGTERM, grace period, SIGKILL) and return `.cancelled`;
  /// a command is not started at all when the task is already cancelled. For deploy and
  /// test steps.
  case stop
  /// Let the command run to its end (its timeout still applies). For the restore step,
  /// which must still run after the hunt was interrupted.
  case finish
}
