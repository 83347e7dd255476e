import Clibgit2
import Foundation
import History

/// One regular file of a commit's tree, as `git ls-tree -r` lists it.
public struct TreeFile: Sendable, Hashable {
  /// The path from the repository's root, folders separated by `/`.
  public var path: String
  /// The file's content, as a blob id.
  public var blob: ObjectID
  /// Mode 100755 rather than 100644.
  public var isExecutable: Bool
}

extension Repository {
  /// The regular files of commit `id`'s tree (blobs of mode 100644 or 100755), sorted by
  /// path. Symbolic links and submodules are left out: their "content" is not a file to read.
  public func files(of id: ObjectID) throws(GitError) -> [TreeFile] {
    let commit = try CommitHandle(in: self, id: id)
    var files = [TreeFile]()
    try collectFiles(in: try TreeHandle(in: self, id: commit.treeID), prefix: "", into: &files)
    return files.sorted { $0.path < $1.path }
  }

  private func collectFiles(in tree: TreeHandle, prefix: String, into files: inout [TreeFile]) throws(GitError) {
    for index in 0..<git_tree_entrycount(tree.handle) {
      guard let entry = git_tree_entry_byindex(tree.handle, index), let name = git_tree_entry_name(entry) else {
        continue
      }
      let path = prefix + String(cString: name)
      let id = ObjectID(git_tree_entry_id(entry).pointee)
      switch git_tree_entry_filemode(entry) {
      case GIT_FILEMODE_TREE:
        try collectFiles(in: try TreeHandle(in: self, id: id), prefix: path + "/", into: &files)
      case GIT_FILEMODE_BLOB:
        files.append(TreeFile(path: path, blob: id, isExecutable: false))
      case GIT_FILEMODE_BLOB_EXECUTABLE:
        files.append(TreeFile(path: path, blob: id, isExecutable: true))
      default:
        continue
      }
    }
  }

  /// The bytes of blob `id`, as stored (no filters applied).
  ///
  /// - Throws: `missingObject` when the blob is not in the object database.
  public func contents(ofBlob id: ObjectID) throws(GitError) -> [UInt8] {
    var oid = id.oid
    var blob: OpaquePointer?
    try check(git_blob_lookup(&blob, handle, &oid), "read blob \(id.hex)") { code, _ in
      code == GIT_ENOTFOUND.rawValue ? .missingObject(id.hex) : nil
    }
    guard let blob else { throw .missingObject(id.hex) }
    defer { git_blob_free(blob) }
    let size = Int(git_blob_rawsize(blob))
    guard size > 0, let raw = git_blob_rawcontent(blob) else { return [] }
    return Array(UnsafeRawBufferPointer(start: raw, count: size))
  }
}
