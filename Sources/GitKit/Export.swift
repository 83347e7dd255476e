import Clibgit2
import Foundation
import History

extension Repository {
  /// Writes a clean copy of commit `id`'s tree into `directory` (created if missing, and
  /// required to be empty), as `git checkout` would lay it out, filters and file modes
  /// included. The user's work tree, index and HEAD are not touched, and no `.git` is written:
  /// deploy steps run in the copy.
  ///
  /// - Throws: `exportTargetNotEmpty` when `directory` already holds files.
  public func export(_ id: ObjectID, to directory: URL) throws(GitError) {
    let path = directory.standardizedFileURL.path
    let files = FileManager.default
    if let existing = try? files.contentsOfDirectory(atPath: path), !existing.isEmpty {
      throw .exportTargetNotEmpty(path: path)
    }
    do {
      try files.createDirectory(atPath: path, withIntermediateDirectories: true)
    } catch {
      throw .libgit2(operation: "create '\(path)'", code: -1, message: error.localizedDescription)
    }
    let commit = try CommitHandle(in: self, id: id)
    var options = git_checkout_options()
    try check(
      git_checkout_options_init(&options, UInt32(GIT_CHECKOUT_OPTIONS_VERSION)), "prepare a checkout")
    // FORCE writes every file of the tree; DONT_UPDATE_INDEX keeps the user's index as it is.
    options.checkout_strategy = GIT_CHECKOUT_FORCE.rawValue | GIT_CHECKOUT_DONT_UPDATE_INDEX.rawValue
    // Compare against an empty baseline so that every file is written into the new folder.
    let empty = try EmptyIndex()
    options.baseline_index = empty.handle
    let code = path.withCString { target -> Int32 in
      options.target_directory = target
      return git_checkout_tree(handle, commit.handle, &options)
    }
    try check(code, "export \(id.hex) into '\(path)'")
  }
}

/// An owned in-memory index with no entries, freed in `deinit`.
final class EmptyIndex {
  let handle: OpaquePointer

  init() throws(GitError) {
    var index: OpaquePointer?
    try check(git_index_new(&index), "make an empty index")
    guard let index else { throw .libgit2(operation: "make an empty index", code: -1, message: "none") }
    handle = index
  }

  deinit { git_index_free(handle) }
}
