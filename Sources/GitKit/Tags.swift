import Clibgit2
import Foundation
import History

/// A tag and the commit it names (annotated tags peeled, as `git rev-parse TAG^{commit}`).
public struct TagInfo: Sendable, Hashable {
  /// The tag's name without `refs/tags/`.
  public var name: String
  public var commit: ObjectID
}

extension Repository {
  /// Every tag that names a commit, sorted by name. Tags of trees or blobs are left out.
  public func tags() throws(GitError) -> [TagInfo] {
    var found = [TagInfo]()
    for name in try referenceNames() where name.hasPrefix("refs/tags/") {
      let tag = String(name.dropFirst("refs/tags/".count))
      do {
        found.append(TagInfo(name: tag, commit: try resolve(name)))
      } catch .notACommit {
        continue
      }
    }
    return found.sorted { $0.name < $1.name }
  }

  /// True when `name` is a branch here (`refs/heads/NAME`) or a remote's branch
  /// (`refs/remotes/REMOTE/NAME`): a name that moves, unlike a tag or a commit.
  public func isBranch(_ name: String) throws(GitError) -> Bool {
    try referenceNames().contains { reference in
      if reference == "refs/heads/\(name)" { return true }
      guard reference.hasPrefix("refs/remotes/") else { return false }
      let rest = reference.dropFirst("refs/remotes/".count)
      guard let slash = rest.firstIndex(of: "/") else { return false }
      return rest[rest.index(after: slash)...] == name
    }
  }

  /// The full names of every reference (`refs/heads/main`, `refs/tags/v1.0`, ...).
  func referenceNames() throws(GitError) -> [String] {
    var array = git_strarray()
    try check(git_reference_list(&array, handle), "list the references of '\(requestedPath)'")
    defer { git_strarray_dispose(&array) }
    var names = [String]()
    for index in 0..<array.count {
      if let name = array.strings[index] { names.append(String(cString: name)) }
    }
    return names
  }
}
