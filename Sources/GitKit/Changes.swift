import Clibgit2
import Foundation
import History

/// One file a commit changed, against its first parent.
public struct FileChange: Sendable, Hashable {
  /// What happened to the file.
  public enum Kind: String, Sendable {
    case added, deleted, modified
    case typeChanged = "type-changed"
  }

  public var kind: Kind
  /// The file's path from the repository root (the old path for a deletion).
  public var path: String
}

extension Repository {
  /// The files commit `id` changes against its first parent (against nothing for a root
  /// commit, or a shallow clone's boundary commit, as git shows them), sorted by path. Renames
  /// show as a deletion and an addition.
  public func changedFiles(of id: ObjectID) throws(GitError) -> [FileChange] {
    let commit = try CommitHandle(in: self, id: id)
    let tree = try TreeHandle(in: self, id: commit.treeID)
    var parentTree: TreeHandle?
    if let parentID = commit.parents.first {
      let parent = try CommitHandle(in: self, id: parentID)
      parentTree = try TreeHandle(in: self, id: parent.treeID)
    }
    let diff = try Diff(in: self, from: parentTree, to: tree, pathspec: [])
    var changes = [FileChange]()
    for index in 0..<git_diff_num_deltas(diff.handle) {
      guard let delta = git_diff_get_delta(diff.handle, index)?.pointee else { continue }
      let kind: FileChange.Kind
      var path = delta.new_file.path
      switch delta.status {
      case GIT_DELTA_ADDED: kind = .added
      case GIT_DELTA_DELETED:
        kind = .deleted
        path = delta.old_file.path
      case GIT_DELTA_TYPECHANGE: kind = .typeChanged
      default: kind = .modified
      }
      changes.append(FileChange(kind: kind, path: path.map { String(cString: $0) } ?? ""))
    }
    return changes.sorted { $0.path < $1.path }
  }
}

/// An owned `git_diff` between two trees (the first may be absent: the empty tree).
final class Diff {
  let handle: OpaquePointer

  init(in repository: Repository, from old: TreeHandle?, to new: TreeHandle?, pathspec: [String]) throws(GitError) {
    var options = git_diff_options()
    try check(git_diff_options_init(&options, UInt32(GIT_DIFF_OPTIONS_VERSION)), "prepare a diff")
    // libgit2 wants C strings that live for the call: copy them, free them after.
    let strings = pathspec.map { strdup($0) }
    defer { for string in strings { free(string) } }
    var diff: OpaquePointer?
    let code = strings.withUnsafeBufferPointer { buffer -> Int32 in
      options.pathspec = git_strarray(
        strings: UnsafeMutablePointer(mutating: buffer.baseAddress), count: buffer.count)
      return git_diff_tree_to_tree(&diff, repository.handle, old?.handle, new?.handle, &options)
    }
    try check(code, "compare trees")
    guard let diff else {
      throw .libgit2(operation: "compare trees", code: -1, message: "no diff")
    }
    handle = diff
  }

  deinit { git_diff_free(handle) }
}

/// The paths a range is limited to, as `git rev-list ... -- <paths>` takes them: a path names
/// a file or a whole folder; one with `*`, `?` or `[` is a pattern.
struct PathLimits {
  let paths: [String]
  let repository: Repository
  private let hasPatterns: Bool

  /// Nil when there are no paths (no limit).
  static func make(_ paths: [String], repository: Repository) throws(GitError) -> PathLimits? {
    let cleaned = paths.map(Self.normalize)
    guard !cleaned.isEmpty else { return nil }
    return PathLimits(paths: cleaned, repository: repository)
  }

  private init(paths: [String], repository: Repository) {
    self.paths = paths
    self.repository = repository
    hasPatterns = paths.contains { $0.contains { "*?[".contains($0) } }
  }

  /// Repository-relative form: no leading `./`, no trailing `/`; `.` for the whole tree.
  static func normalize(_ path: String) -> String {
    var path = Substring(path)
    while path.hasPrefix("./") { path = path.dropFirst(2) }
    while path.hasSuffix("/") && path.count > 1 { path = path.dropLast() }
    return path.isEmpty ? "." : String(path)
  }

  /// True when the paths hold the same content in both trees (git's TREESAME).
  func same(_ first: ObjectID, _ second: ObjectID) throws(GitError) -> Bool {
    if first == second { return true }
    let one = try TreeHandle(in: repository, id: first)
    let two = try TreeHandle(in: repository, id: second)
    if hasPatterns || paths.contains(".") {
      let diff = try Diff(in: repository, from: one, to: two, pathspec: paths)
      return git_diff_num_deltas(diff.handle) == 0
    }
    for path in paths where try entry(path, in: one) != entry(path, in: two) {
      return false
    }
    return true
  }

  /// True when none of the paths exist in `tree` (how a root commit is judged).
  func isEmpty(in tree: ObjectID) throws(GitError) -> Bool {
    let handle = try TreeHandle(in: repository, id: tree)
    if hasPatterns || paths.contains(".") {
      let diff = try Diff(in: repository, from: nil, to: handle, pathspec: paths)
      return git_diff_num_deltas(diff.handle) == 0
    }
    for path in paths where try entry(path, in: handle) != nil {
      return false
    }
    return true
  }

  /// The id and mode of the entry at `path`, or nil when the tree has none there.
  private func entry(_ path: String, in tree: TreeHandle) throws(GitError) -> EntryKey? {
    var entry: OpaquePointer?
    let code = git_tree_entry_bypath(&entry, tree.handle, path)
    if code == GIT_ENOTFOUND.rawValue {
      git_error_clear()
      return nil
    }
    try check(code, "look up '\(path)' in a tree")
    guard let entry else { return nil }
    defer { git_tree_entry_free(entry) }
    return EntryKey(
      id: ObjectID(git_tree_entry_id(entry).pointee), mode: git_tree_entry_filemode(entry).rawValue)
  }

  private struct EntryKey: Equatable {
    var id: ObjectID
    var mode: UInt32
  }
}
