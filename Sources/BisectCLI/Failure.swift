import ArgumentParser
import Foundation
import GitKit
import HuntKit
import HuntStore

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
  case usage = 64
  case badRevision = 65
  case notARepository = 66
  case shallowClone = 68
  case damagedRepository = 69
  case internalFailure = 70
  /// Another hunt holds the environment, or an unfinished hunt with other settings is open.
  case locked = 75
  /// The state database is damaged, foreign, or from a newer version.
  case stateError = 74
  /// The environment is protected and --allow-protected did not name it.
  case protectedEnvironment = 77
  /// The configuration file or flags are wrong.
  case configuration = 78
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
      case .runner, .workspace, .originalUnknown: status = .internalFailure
      case .store(.locked): status = .locked
      case .store: status = .stateError
      case .unfinishedHunt: status = .locked
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
    default:
      message = error.localizedDescription
      status = .internalFailure
    }
  }

  var description: String { message }

  static func status(for error: GitError) -> ExitStatus {
    switch error {
    case .unknownRevision, .ambiguousRevision, .invalidRevision, .notACommit: .badRevision
    case .notARepository: .notARepository
    case .shallowHistory: .shallowClone
    case .missingObject: .damagedRepository
    case .exportTargetNotEmpty, .libgit2: .internalFailure
    }
  }
}

/// Writes one line to standard error.
func printError(_ line: String) {
  FileHandle.standardError.write(Data((line + "\n").utf8))
}

extension BisectDeploy {
  /// Runs the command line and exits with the documented code: the executable's only call.
  public static func runAndExit() async -> Never {
    do {
      var words = Array(CommandLine.arguments.dropFirst())
      if let first = words.first, ["good", "bad", "skip"].contains(first) { words.insert("mark", at: 0) }
      var command = try parseAsRoot(words)
      // A hunt keeps the words that started it, so that `resume` can start it again.
      if var hunt = command as? HuntCommand {
        hunt.arguments = Array(words.drop { $0 == "hunt" })
        command = hunt
      }
      if var asynchronous = command as? any AsyncParsableCommand {
        try await asynchronous.run()
      } else {
        try command.run()
      }
      Foundation.exit(ExitStatus.success.rawValue)
    } catch let failure as CommandFailure {
      printError("bisect-deploy: error: \(failure.message)")
      Foundation.exit(failure.status.rawValue)
    } catch {
      // Help, --version and usage errors: ArgumentParser prints them and picks the code.
      exit(withError: error)
    }
  }
}
