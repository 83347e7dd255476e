import ArgumentParser
import Foundation
import GitKit

/// Exit codes, as documented in docs/exit-codes.md.
public enum ExitStatus: Int32, CaseIterable, Sendable {
  case success = 0
  case usage = 64
  case badRevision = 65
  case notARepository = 66
  case shallowClone = 68
  case damagedRepository = 69
  case internalFailure = 70
}

/// An error that reached the top of a command: printed as one clear line, then the process
/// exits with the code that says what kind of failure it was.
struct CommandFailure: Error, CustomStringConvertible {
  let message: String
  let status: ExitStatus

  init(_ error: any Error) {
    switch error {
    case let git as GitError:
      message = git.errorDescription ?? "\(git)"
      status = Self.status(for: git)
    case let failure as CommandFailure:
      self = failure
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
  public static func runAndExit() -> Never {
    do {
      var command = try parseAsRoot()
      try command.run()
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
