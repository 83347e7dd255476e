import Clibgit2
import Foundation
import History

/// What reverting a commit on top of another gave.
public enum RevertResult: Sendable, Hashable {
  /// The revert applied cleanly: the new commit (its only parent is the commit it was made on).
  case commit(ObjectID)
  /// The revert conflicts in these files (sorted, each once): no commit was made.
  case conflicts([String])
}

/// Who the tool's own commits are by: a fixed identity, so that the same revert on the same
/// commit is always the same commit (a resumed hunt finds the step it stored).
public let toolSignatureName = "bisect-deploy"
public let toolSignatureEmail = "bisect-deploy@localhost"

extension Repository {
  /// Reverts `culprit` on top of `base` in memory, as `git revert` would (a merge against its
  /// first parent, as `git revert -m 1`), and writes the result as a new commit whose parent
  /// is `base`. Only objects are written: no reference moves, and the user's work tree,
  /// index and HEAD are not touched.
  ///
  /// The commit is by the tool's fixed identity (`toolSignatureName`), dated as `base`'s
  /// committer, so the same inputs always give the same commit.
  ///
  /// - Returns: `.commit` with the new commit, or `.conflicts` naming the files that conflict.
  public func revert(_ culprit: ObjectID, onto base: ObjectID, message: String) throws(GitError) -> RevertResult {
    let reverted = try CommitHandle(in: self, id: culprit)
    let ours = try CommitHandle(in: self, id: base)
    var options = git_merge_options()
    try check(git_merge_options_init(&options, UInt32(GIT_MERGE_OPTIONS_VERSION)), "prepare a revert")
    // libgit2 wants a mainline for a merge and refuses one for any other commit.
    let mainline: UInt32 = git_commit_parentcount(reverted.handle) > 1 ? 1 : 0
    var index: OpaquePointer?
    try check(
      git_revert_commit(&index, handle, reverted.handle, ours.handle, mainline, &options),
      "revert \(culprit.hex) on top of \(base.hex)")
    guard let index else {
      throw .libgit2(operation: "revert \(culprit.hex)", code: -1, message: "no index came back")
    }
    let owned = OwnedIndex(index)
    if git_index_has_conflicts(owned.handle) == 1 { return .conflicts(try owned.conflictedPaths()) }
    var tree = git_oid()
    try check(git_index_write_tree_to(&tree, owned.handle, handle), "write the tree of the revert of \(culprit.hex)")
    let treeHandle = try TreeHandle(in: self, id: ObjectID(tree))
    let when = git_commit_committer(ours.handle)?.pointee.when
    let signature = try OwnedSignature(
      name: toolSignatureName, email: toolSignatureEmail, time: when?.time ?? 0, offset: when?.offset ?? 0)
    var made = git_oid()
    var parents: [OpaquePointer?] = [ours.handle]
    let code = parents.withUnsafeMutableBufferPointer { buffer in
      git_commit_create(
        &made, handle, nil, signature.handle, signature.handle, "UTF-8", message, treeHandle.handle, 1,
        buffer.baseAddress)
    }
    try check(code, "write the revert of \(culprit.hex)")
    return .commit(ObjectID(made))
  }

  /// Points reference `name` (a full name such as `refs/bisect-deploy/revert/7`) at `id`,
  /// creating or moving it. Never touches HEAD, the index or the work tree.
  public func setReference(_ name: String, to id: ObjectID) throws(GitError) {
    var oid = id.oid
    var reference: OpaquePointer?
    try check(git_reference_create(&reference, handle, name, &oid, 1, "bisect-deploy: revert proof"), "set \(name)")
    git_reference_free(reference)
  }

  /// The commit reference `name` points at, or nil when there is no such reference.
  public func reference(_ name: String) throws(GitError) -> ObjectID? {
    var oid = git_oid()
    let code = git_reference_name_to_id(&oid, handle, name)
    if code == GIT_ENOTFOUND.rawValue {
      git_error_clear()
      return nil
    }
    try check(code, "read \(name)")
    return ObjectID(oid)
  }

  /// Creates branch `name` at commit `id`, as `git branch NAME ID` does; an existing branch is
  /// never moved. HEAD, the index and the work tree are not touched.
  ///
  /// - Throws: `branchExists` or `invalidBranchName`, naming `name`.
  public func createBranch(_ name: String, at id: ObjectID) throws(GitError) {
    let commit = try CommitHandle(in: self, id: id)
    var reference: OpaquePointer?
    try check(git_branch_create(&reference, handle, name, commit.handle, 0), "create branch '\(name)'") { code, _ in
      switch code {
      case GIT_EEXISTS.rawValue: .branchExists(name)
      case GIT_EINVALIDSPEC.rawValue: .invalidBranchName(name)
      default: nil
      }
    }
    git_reference_free(reference)
  }
}

/// An owned `git_index` handle, freed in `deinit`.
final class OwnedIndex {
  let handle: OpaquePointer

  init(_ handle: OpaquePointer) { self.handle = handle }

  deinit { git_index_free(handle) }

  /// Every path that has a conflict, sorted, each once.
  func conflictedPaths() throws(GitError) -> [String] {
    var iterator: OpaquePointer?
    try check(git_index_conflict_iterator_new(&iterator, handle), "list the conflicts of a revert")
    guard let iterator else { return [] }
    defer { git_index_conflict_iterator_free(iterator) }
    var paths = Set<String>()
    while true {
      var ancestor: UnsafePointer<git_index_entry>?
      var ours: UnsafePointer<git_index_entry>?
      var theirs: UnsafePointer<git_index_entry>?
      let code = git_index_conflict_next(&ancestor, &ours, &theirs, iterator)
      if code == GIT_ITEROVER.rawValue {
        git_error_clear()
        break
      }
      try check(code, "list the conflicts of a revert")
      for entry in [ours, theirs, ancestor] {
        if let path = entry?.pointee.path {
          paths.insert(String(cString: path))
          break
        }
      }
    }
    return paths.sorted()
  }
}

/// An owned `git_signature`, freed in `deinit`.
final class OwnedSignature {
  let handle: UnsafeMutablePointer<git_signature>

  init(name: String, email: String, time: git_time_t, offset: Int32) throws(GitError) {
    var signature: UnsafeMutablePointer<git_signature>?
    try check(git_signature_new(&signature, name, email, time, offset), "make the signature \(name) <\(email)>")
    guard let signature else { throw .libgit2(operation: "make a signature", code: -1, message: "none") }
    handle = signature
  }

  deinit { git_signature_free(handle) }
}
