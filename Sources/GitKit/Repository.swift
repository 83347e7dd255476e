import Clibgit2
import Foundation
import History

/// A person and a moment, as a commit records its author or committer.
public struct Signature: Sendable, Hashable {
  public var name: String
  public var email: String
  /// Seconds since 1970, UTC.
  public var time: Int64
  /// The author's offset from UTC in minutes, as recorded.
  public var utcOffsetMinutes: Int32
}

/// The facts of one commit that reports and messages need.
public struct CommitInfo: Sendable, Hashable {
  public var id: ObjectID
  public var parents: [ObjectID]
  public var author: Signature
  public var committer: Signature
  /// The first line of the message.
  public var summary: String
  /// The whole message.
  public var message: String
}

/// An open git repository: the only door to libgit2 for the rest of the program.
///
/// Owns its `git_repository` handle and frees it in `deinit`. Not `Sendable`: libgit2 handles
/// must stay on one task; values it returns (`ObjectID`, `CommitInfo`, `CommitGraph`) cross
/// tasks freely. Open one `Repository` per task that needs git.
public final class Repository {
  let handle: OpaquePointer
  /// The path the user gave, for messages.
  public let requestedPath: String
  /// git's commit-graph once loaded (nil inside when there is none to use), so that a
  /// series of ancestry questions checks the file once. Commits never change, so a graph
  /// rewritten meanwhile only covers more; the object database covers the rest.
  var loadedCommitGraph: CommitGraphFile??

  /// Opens the repository at `path` or at any folder above it, bare repositories included.
  ///
  /// - Parameter searchingUpward: false to open `path` itself only: a dependency's clone
  ///   named in the configuration must not turn into the repository a folder happens to sit in.
  /// - Throws: `GitError.notARepository` when neither `path` nor a parent folder is a repository.
  public init(at path: String, searchingUpward: Bool = true) throws(GitError) {
    ensureLibgit2()
    requestedPath = path
    var repository: OpaquePointer?
    let flags = searchingUpward ? 0 : GIT_REPOSITORY_OPEN_NO_SEARCH.rawValue
    let code = git_repository_open_ext(&repository, path, flags, nil)
    try check(code, "open repository at '\(path)'") { code, _ in
      code == GIT_ENOTFOUND.rawValue ? .notARepository(path: path) : nil
    }
    guard let repository else { throw .notARepository(path: path) }
    handle = repository
  }

  deinit { git_repository_free(handle) }

  /// The repository's git directory (`.git` for a work tree, the folder itself when bare).
  public var gitDirectory: String { String(cString: git_repository_path(handle)) }

  /// The folder shared by all work trees of this repository (where `shallow` and `objects/` live).
  public var commonDirectory: String { String(cString: git_repository_commondir(handle)) }

  /// The work tree, or nil for a bare repository.
  public var workTree: String? { git_repository_workdir(handle).map { String(cString: $0) } }

  /// True for a bare repository.
  public var isBare: Bool { git_repository_is_bare(handle) == 1 }

  /// True when the repository is a shallow clone (some commits' parents were not fetched).
  public var isShallow: Bool { git_repository_is_shallow(handle) == 1 }

  /// The commits at which a shallow clone's history is cut (their parents are missing).
  public func shallowBoundaries() -> Set<ObjectID> {
    let file = URL(fileURLWithPath: commonDirectory).appendingPathComponent("shallow")
    guard let text = try? String(contentsOf: file, encoding: .utf8) else { return [] }
    return Set(text.split(whereSeparator: \.isNewline).compactMap { ObjectID(hex: $0) })
  }

  /// Resolves what a user types (a full or unique short hash, a branch, a tag, `HEAD~3`,
  /// `v1.0^2`) to a commit id; tags are peeled to the commit they point at.
  ///
  /// - Throws: `unknownRevision`, `ambiguousRevision`, `invalidRevision` or `notACommit`,
  ///   each naming `revision`.
  public func resolve(_ revision: String) throws(GitError) -> ObjectID {
    var object: OpaquePointer?
    let code = git_revparse_single(&object, handle, revision)
    let shallow = isShallow
    try check(code, "resolve '\(revision)'") { code, message in
      switch code {
      case GIT_ENOTFOUND.rawValue:
        // In a shallow clone the commit may simply not have been fetched.
        shallow
          ? .invalidRevision(
            revision,
            reason:
              "no such commit here, and this is a shallow clone: fetch more history (git fetch --unshallow) if it is older than the clone's boundary"
          )
          : .unknownRevision(revision)
      case GIT_EAMBIGUOUS.rawValue: .ambiguousRevision(revision)
      case GIT_EINVALIDSPEC.rawValue: .invalidRevision(revision, reason: message)
      default: nil
      }
    }
    guard let object else { throw .unknownRevision(revision) }
    defer { git_object_free(object) }
    var commit: OpaquePointer?
    let peeled = git_object_peel(&commit, object, GIT_OBJECT_COMMIT)
    try check(peeled, "peel '\(revision)' to a commit") { code, _ in
      code == GIT_EPEEL.rawValue || code == GIT_EINVALIDSPEC.rawValue || code == GIT_ENOTFOUND.rawValue
        || code == GIT_EAMBIGUOUS.rawValue ? .notACommit(revision) : nil
    }
    guard let commit else { throw .notACommit(revision) }
    defer { git_object_free(commit) }
    return ObjectID(git_object_id(commit).pointee)
  }

  /// The facts of commit `id`: parents, author, committer, summary and message. Text in
  /// another encoding than UTF-8 (the commit's `encoding` header) is decoded from it, as
  /// `git log` shows it. A shallow clone's boundary commits have no parents, as in git.
  public func commit(_ id: ObjectID) throws(GitError) -> CommitInfo {
    let commit = try CommitHandle(in: self, id: id)
    let pointer = commit.handle
    let text = CommitText(header: git_commit_message_encoding(pointer).map { String(cString: $0) })
    return CommitInfo(
      id: id, parents: commit.parents,
      author: Signature(git_commit_author(pointer), text: text),
      committer: Signature(git_commit_committer(pointer), text: text),
      summary: text.string(git_commit_summary(pointer)), message: text.string(git_commit_message(pointer)))
  }

  /// The merge bases of `bad` with each of `goods` that is not its ancestor: what git tests
  /// first when a good commit lies on another branch. Empty when every good is an ancestor.
  public func mergeBasesToCheck(bad: ObjectID, goods: [ObjectID]) throws(GitError) -> [ObjectID] {
    try mergeBasesToCheck(bad: bad, goods: goods, known: [:])
  }

  /// `mergeBasesToCheck(bad:goods:)` for the range `graph`, taking what its walk learned of
  /// the goods' ancestry (`CommitGraph.boundaryAncestry`) instead of walking again.
  public func mergeBasesToCheck(in graph: CommitGraph) throws(GitError) -> [ObjectID] {
    try mergeBasesToCheck(bad: graph.tip, goods: graph.boundaries, known: graph.boundaryAncestry)
  }

  private func mergeBasesToCheck(bad: ObjectID, goods: [ObjectID], known: [ObjectID: Bool]) throws(GitError)
    -> [ObjectID]
  {
    var bases = [ObjectID]()
    for good in goods where try !isAncestor(good, of: bad, known: known) {
      for base in try mergeBases(good, bad) where !bases.contains(base) { bases.append(base) }
    }
    return bases
  }

  /// Whether `good` is an ancestor of `bad`, the ends of a range whose walk learned `known`
  /// (`CommitGraph.boundaryAncestry`, `RangeCount.boundaryAncestry`); the repository is asked
  /// when the walk did not decide.
  public func isAncestor(_ good: ObjectID, of bad: ObjectID, known: [ObjectID: Bool]) throws(GitError) -> Bool {
    if let answer = known[good] { return answer }
    return try isAncestor(good, of: bad)
  }

  /// The newest commit of `tip`'s first-parent history whose committer time is at or before
  /// `time` (seconds since 1970): what the branch pointed at then. Nil when the history
  /// starts later.
  ///
  /// - Throws: `shallowHistory` when the answer lies beyond a shallow clone's boundary.
  public func firstParentCommit(from tip: ObjectID, atOrBefore time: Int64) throws(GitError) -> ObjectID? {
    let boundaries = isShallow ? shallowBoundaries() : []
    var cursor: ObjectID? = tip
    while let current = cursor {
      let facts = try commit(current)
      if facts.committer.time <= time { return current }
      if boundaries.contains(current) {
        throw .shallowHistory(repository: requestedPath, boundary: current.hex)
      }
      cursor = facts.parents.first
    }
    return nil
  }

  /// Along `line` (a first-parent history, newest first), the oldest commit that contains
  /// `commit`: the merge that brought it in. Nil when that is `commit` itself, or when no
  /// commit of the line contains it. Containment only grows towards the newest end, so a
  /// binary search needs a few ancestry checks.
  public func firstContaining(_ commit: ObjectID, along line: [ObjectID]) throws(GitError) -> ObjectID? {
    guard let newest = line.first, try isAncestor(commit, of: newest) else { return nil }
    var low = 0
    var high = line.count - 1
    while low < high {
      let middle = (low + high + 1) / 2
      if try isAncestor(commit, of: line[middle]) { low = middle } else { high = middle - 1 }
    }
    return line[low] == commit ? nil : line[low]
  }

  /// The shortest prefix of `id`, at least `minimum` digits, that is unique in this repository.
  public func shortName(_ id: ObjectID, minimum: Int = 7) -> String {
    // Extend the prefix until the object database no longer finds it ambiguous.
    var odb: OpaquePointer?
    guard git_repository_odb(&odb, handle) == 0, let odb else {
      git_error_clear()
      return id.short(minimum)
    }
    defer { git_odb_free(odb) }
    var oid = id.oid
    var length = max(4, minimum)
    while length < 40 {
      var found = git_oid()
      let code = git_odb_exists_prefix(&found, odb, &oid, length)
      if code == 0 { return id.short(length) }
      git_error_clear()
      length += 1
    }
    return id.hex
  }
}

extension Signature {
  /// Copies libgit2's signature; the name and email are in the commit's encoding (`text`).
  init(_ signature: UnsafePointer<git_signature>?, text: CommitText) {
    guard let signature = signature?.pointee else {
      self.init(name: "", email: "", time: 0, utcOffsetMinutes: 0)
      return
    }
    self.init(
      name: text.string(signature.name), email: text.string(signature.email),
      time: Int64(signature.when.time),
      utcOffsetMinutes: Int32(signature.when.offset))
  }
}

/// An owned `git_commit` handle, freed in `deinit`. Holds its repository so that the
/// repository outlives it.
final class CommitHandle {
  let handle: OpaquePointer
  let repository: Repository

  init(in repository: Repository, id: ObjectID) throws(GitError) {
    var oid = id.oid
    var commit: OpaquePointer?
    let code = git_commit_lookup(&commit, repository.handle, &oid)
    try check(code, "read commit \(id.hex)") { code, _ in
      code == GIT_ENOTFOUND.rawValue ? .missingObject(id.hex) : nil
    }
    guard let commit else { throw .missingObject(id.hex) }
    self.handle = commit
    self.repository = repository
  }

  deinit { git_commit_free(handle) }

  /// The id of the commit's root tree.
  var treeID: ObjectID { ObjectID(git_commit_tree_id(handle).pointee) }

  /// The commit's parents as git sees them: none for a shallow clone's boundary commit
  /// (libgit2 1.5.1 would list parents that were never fetched).
  var parents: [ObjectID] {
    let count = git_commit_parentcount(handle)
    guard count > 0 else { return [] }
    let id = ObjectID(git_commit_id(handle).pointee)
    if repository.isShallow && repository.shallowBoundaries().contains(id) { return [] }
    var parents = [ObjectID]()
    for index in 0..<count {
      if let parent = git_commit_parent_id(handle, index) { parents.append(ObjectID(parent.pointee)) }
    }
    return parents
  }
}

/// An owned `git_tree` handle, freed in `deinit`.
final class TreeHandle {
  let handle: OpaquePointer
  let repository: Repository

  init(in repository: Repository, id: ObjectID) throws(GitError) {
    var oid = id.oid
    var tree: OpaquePointer?
    try check(git_tree_lookup(&tree, repository.handle, &oid), "read tree \(id.hex)") { code, _ in
      code == GIT_ENOTFOUND.rawValue ? .missingObject(id.hex) : nil
    }
    guard let tree else { throw .missingObject(id.hex) }
    self.handle = tree
    self.repository = repository
  }

  deinit { git_tree_free(handle) }
}
