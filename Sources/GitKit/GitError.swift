import Foundation

/// Everything the libgit2 layer can fail with. Each case names the input the user gave, so
/// the message says what to fix.
public enum GitError: Error, Equatable, Sendable {
  /// `path` is not inside a git repository (nor is any folder above it).
  case notARepository(path: String)
  /// No object answers to `revision`.
  case unknownRevision(String)
  /// The short hash `revision` matches more than one object.
  case ambiguousRevision(String)
  /// `revision` is not valid revision syntax; `reason` is libgit2's explanation.
  case invalidRevision(String, reason: String)
  /// `revision` names an object that is not a commit and does not peel to one (a tree, a blob).
  case notACommit(String)
  /// The range needs history that a shallow clone did not fetch; `boundary` is a commit
  /// whose parents were not fetched, or an end of the range that was not fetched at all.
  case shallowHistory(repository: String, boundary: ObjectIDText)
  /// A commit the range needs is missing from the object database (a damaged or partial clone).
  case missingObject(ObjectIDText)
  /// The export target already holds files; a clean checkout needs an empty or new folder.
  case exportTargetNotEmpty(path: String)
  /// A branch of that name exists already: it is never moved.
  case branchExists(String)
  /// Not a name git accepts for a branch.
  case invalidBranchName(String)
  /// Any other libgit2 failure: what we were doing, libgit2's code and message.
  case libgit2(operation: String, code: Int32, message: String)
}

/// An object id spelled out in hex, as errors carry it.
public typealias ObjectIDText = String

extension GitError: LocalizedError {
  public var errorDescription: String? {
    switch self {
    case .notARepository(let path):
      "'\(path)' is not a git repository (nor inside one). Pass --repo with the path of a clone."
    case .unknownRevision(let revision):
      "Unknown revision '\(revision)': no commit, branch or tag has that name here. Check the spelling, or fetch it first (git fetch)."
    case .ambiguousRevision(let revision):
      "Ambiguous revision '\(revision)': it matches more than one object. Give more digits of the hash."
    case .invalidRevision(let revision, let reason):
      "Invalid revision '\(revision)': \(reason)."
    case .notACommit(let revision):
      "'\(revision)' does not name a commit (it is a tree or a blob). Give a commit, branch or tag."
    case .shallowHistory(let repository, let boundary):
      "The repository at '\(repository)' is a shallow clone and the range needs history it did not fetch (at commit \(boundary)). Fetch more history first: git fetch --unshallow (or --deepen=N)."
    case .missingObject(let id):
      "Commit \(id) is missing from the object database. The clone may be damaged or partial: run git fsck, or fetch again."
    case .exportTargetNotEmpty(let path):
      "Cannot export a clean checkout into '\(path)': the folder is not empty."
    case .branchExists(let name):
      "A branch named '\(name)' exists already; it is left as it is. Choose another name."
    case .invalidBranchName(let name):
      "'\(name)' is not a valid branch name (see git check-ref-format). Choose another name."
    case .libgit2(let operation, let code, let message):
      "git: \(operation) failed (libgit2 code \(code)): \(message)"
    }
  }
}
