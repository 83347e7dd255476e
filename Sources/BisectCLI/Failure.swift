import ArgumentParser
import Foundation
import GitKit
import History
import HuntKit
import HuntStore
import HuntSummaries
import Runner

/// Exit codes, as documented in docs/exit-codes.md.
public enum ExitStatus: Int32, CaseIterable, Sendable {
  /// The command did its job; for a hunt, the culprit was found.
  case success = 0
  /// The hunt's bad commit tested good: no regression to find.
  case noRegression = 3
  /// Only skipped commits are left around the culprit: it is one of a listed set.
  case onlySkippedLeft = 4
  /// Verdicts or endpoints contradict each other (good found bad, fixed between...).
  case contradiction = 5
  /// Nothing to search: empty range, or no commit changes the given paths.
  case nothingToSearch = 6
  /// The hunt aborted (a test exited above 127, or deploys failed under `then: abort`).
  case aborted = 7
  /// `--max-duration` ran out.
  case outOfTime = 8
  /// Nothing to show: `status` found no unfinished hunt (none on `--env`), `log` or
  /// `report` no hunt at all. Not a mistake in the command line, so not 64.
  case nothingToShow = 9
  case usage = 64
  case badRevision = 65
  case notARepository = 66
  /// A dependency's `url:` could not be cloned or fetched (`--descend-deps`): its address
  /// gave nothing to read.
  case dependencyUnavailable = 67
  case shallowClone = 68
  case damagedRepository = 69
  case internalFailure = 70
  /// Another hunt holds the environment, or an unfinished hunt with other settings is open,
  /// or no environment of a pool became free within --wait-for-env.
  case locked = 75
  /// The hunt lost its lease on an environment (its state database unreachable for longer
  /// than the lease, or the lease taken over or freed): it stopped its steps, restored
  /// nothing, and stays open for `resume`.
  case leaseLost = 76
  /// The state database is damaged, foreign, or from a newer version; or a file or folder
  /// the tool must write (workspace, logs, report) cannot be written (sysexits' EX_IOERR).
  case stateError = 74
  /// The environment is protected and --allow-protected did not name it.
  case protectedEnvironment = 77
  /// The configuration file or flags are wrong.
  case configuration = 78
  /// A `smoke` test is set up wrong (no token, a malformed URL, a bad flag, a refused
  /// token): above 127, so a hunt running it as its test aborts instead of blaming a commit.
  case smokeMisconfigured = 200
  /// Ctrl-C (SIGINT) and SIGTERM, as the shell reports a process they ended.
  case interrupted = 130
  case terminated = 143

  /// A file or folder cannot be read or written: the same code as the state database's.
  static let ioError = ExitStatus.stateError
}

/// An error that reached the top of a command: printed as one clear line, then the process
/// exits with the code that says what kind of failure it was.
struct CommandFailure: Error, CustomStringConvertible {
  let message: String
  let status: ExitStatus

  init(message: String, status: ExitStatus) {
    self.message = message
    self.status = status
  }

  init(_ error: any Error) {
    switch error {
    case let git as GitError:
      message = git.errorDescription ?? "\(git)"
      status = Self.status(for: git)
    case let failure as CommandFailure:
      self = failure
    case let hunt as HuntError:
      message = hunt.errorDescription ?? "\(hunt)"
      switch hunt {
      case .git(let git), .restoreTarget(_, let git): status = Self.status(for: git)
      case .configuration(.protectedEnvironment): status = .protectedEnvironment
      case .configuration: status = .configuration
      case .workspace: status = .ioError
      case .originalUnknown: status = .configuration
      case .store(.locked): status = .locked
      case .store: status = .stateError
      case .unfinishedHunt, .noFreeEnvironment, .changedSinceStopped: status = .locked
      case .stoppedWaiting(.signal(let number)): status = number == SIGTERM ? .terminated : .interrupted
      case .stoppedWaiting(.leaseLost): status = .leaseLost
      case .stoppedWaiting(.deadline): status = .outOfTime
      case .dependencyRepository(_, _, let git): status = Self.status(for: git)
      case .dependencyFetch: status = .dependencyUnavailable
      case .pinRewrite: status = .ioError
      }
    case let store as StoreError:
      message = store.errorDescription ?? "\(store)"
      if case .locked = store { status = .locked } else { status = .stateError }
    case let configuration as ConfigurationError:
      message = configuration.errorDescription ?? "\(configuration)"
      if case .protectedEnvironment = configuration {
        status = .protectedEnvironment
      } else {
        status = .configuration
      }
    case let report as ReportError:
      message = report.errorDescription ?? "\(report)"
      switch report {
      case .unknownFormat: status = .usage
      case .cannotWrite: status = .ioError
      case .damagedHunt: status = .stateError
      }
    case let runner as RunnerError:
      message = runner.errorDescription ?? "\(runner)"
      status = .ioError
    case let validation as ValidationError:
      // A flag's value is wrong: the message names the flag.
      message = validation.message
      status = .usage
    case let cocoa as CocoaError:
      // File-system failures (a read-only folder, a full disk) name the path.
      let path = cocoa.filePath ?? (cocoa.userInfo[NSURLErrorKey] as? URL)?.path
      message = path.map { "cannot write '\($0)': \(cocoa.localizedDescription)" } ?? cocoa.localizedDescription
      status = .ioError
    default:
      if BisectDeploy.exitCode(for: error) == .validationFailure {
        // ArgumentParser's own errors (a stored hunt's arguments that no longer validate, for
        // `resume`): its message names the flag.
        message = BisectDeploy.message(for: error)
        status = .usage
      } else {
        message = error.localizedDescription
        status = .internalFailure
      }
    }
  }

  var description: String { message }

  static func status(for error: GitError) -> ExitStatus {
    switch error {
    case .unknownRevision, .ambiguousRevision, .invalidRevision, .notACommit: .badRevision
    case .notARepository: .notARepository
    case .shallowHistory: .shallowClone
    case .missingObject: .damagedRepository
    case .branchExists, .invalidBranchName: .usage
    case .exportTargetNotEmpty, .libgit2: .internalFailure
    }
  }
}

/// Writes one line to standard error, with control characters made visible (error messages
/// quote inputs, and inputs may come from the repository).
func printError(_ line: String) {
  FileHandle.standardError.write(Data((line.terminalSafe(keepingNewlines: true) + "\n").utf8))
}

extension BisectDeploy {
  /// Runs the command line and exits with the documented code: the executable's only call.
  ///
  /// Errors are mapped here, once: parsing errors in ArgumentParser's words (help, version,
  /// usage), everything a command throws through `CommandFailure`, which knows every module's
  /// error type and its exit code. Commands do not wrap errors themselves.
  public static func runAndExit() async -> Never {
    var words = Array(CommandLine.arguments.dropFirst())
    if let first = words.first, ["good", "bad", "skip"].contains(first) { words.insert("mark", at: 0) }
    var command: any ParsableCommand
    do {
      try refuseUnknownCommand(words)
      command = try parseAsRoot(words)
      // A hunt keeps the words that started it, so that `resume` can start it again.
      if var hunt = command as? HuntCommand {
        hunt.arguments = Array(words.drop { $0 == "hunt" })
        command = hunt
      }
    } catch let failure as CommandFailure {
      exit(with: failure)
    } catch {
      let code = exitCode(for: error)
      if code == .success {
        // --help and --version.
        Swift.print(fullMessage(for: error))
        Foundation.exit(ExitStatus.success.rawValue)
      }
      // Usage errors, in the documented form: one line naming the flag, then where help is.
      let message = self.message(for: error).trimmingCharacters(in: .whitespacesAndNewlines)
      printError("bisect-deploy: error: \(message.isEmpty ? "\(error)" : message)")
      printError("See 'bisect-deploy --help' (or 'bisect-deploy help COMMAND').")
      // A smoke test is a hunt's test: 64 would read as "bad", so its usage errors abort.
      let usage = words.first == "smoke" ? ExitStatus.smokeMisconfigured : ExitStatus.usage
      Foundation.exit(code == .validationFailure || code.rawValue == 1 ? usage.rawValue : code.rawValue)
    }
    do {
      if var asynchronous = command as? any AsyncParsableCommand {
        try await asynchronous.run()
      } else {
        try command.run()
      }
      Foundation.exit(ExitStatus.success.rawValue)
    } catch let exit as ExitCode {
      // A hunt's outcome (3 to 8, 130, 143), already said in its summary.
      Foundation.exit(exit.rawValue)
    } catch {
      // `help COMMAND` and `--help` run ArgumentParser's help command, which ends by throwing.
      if exitCode(for: error) == .success {
        Swift.print(fullMessage(for: error))
        Foundation.exit(ExitStatus.success.rawValue)
      }
      exit(with: CommandFailure(error))
    }
  }

  private static func exit(with failure: CommandFailure) -> Never {
    // Nothing to show is an answer, not a mistake: said without "error:".
    let label = failure.status == .nothingToShow ? "" : "error: "
    printError("bisect-deploy: \(label)\(failure.message)")
    Foundation.exit(failure.status.rawValue)
  }

  /// The words that may start a command line: subcommand names and `help`.
  static var commandWords: [String] {
    configuration.subcommands.map { $0.configuration.commandName ?? "" } + ["help", "good", "bad", "skip"]
  }

  /// A first word that is neither an option nor a command is a typo (`stats`), not a path
  /// for the default hunt (paths go after `--`): said as such, with the nearest command.
  /// `help WORD` with an unknown WORD is refused the same way.
  static func refuseUnknownCommand(_ words: [String]) throws {
    guard var first = words.first, !first.hasPrefix("-") else { return }
    if first == "help" {
      guard words.count > 1, !words[1].hasPrefix("-") else { return }
      first = words[1]
    } else if commandWords.contains(first) {
      return
    }
    guard !commandWords.contains(first) || first == "help" else { return }
    var message = "unknown command '\(first)'."
    if let nearest = nearestWord(to: first, among: commandWords.filter { $0 != "help" }) {
      message += " Did you mean '\(nearest)'?"
    }
    message += " Commands: \(commandWords.filter { !["good", "bad", "skip"].contains($0) }.joined(separator: ", "))."
    message += " (Paths that limit a hunt go after --.)"
    throw CommandFailure(message: message, status: .usage)
  }
}
