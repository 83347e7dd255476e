import Clibgit2
import Foundation
import History

/// How `updateCheckout` brought a checkout folder to its commit.
public enum CheckoutMove: Sendable, Equatable {
  /// Only what differs was written: the files the two commits do not share, and whatever the
  /// sweep found changed since the last move.
  case incremental
  /// The folder was emptied and the whole tree written, for `reason` (no folder or index yet,
  /// an unreadable index, an interrupted move).
  case full(reason: String)
}

extension Repository {
  /// Moves `folder`, a checkout this tool made, to exactly commit `id`'s tree, writing only
  /// what differs from the last checkout (as `git bisect` moves a work tree), and records in
  /// `indexFile` (outside the folder) what it wrote.
  ///
  /// Whatever happened in the folder since the last move is undone first: extra files and
  /// folders (ignored ones too), edited, deleted or re-moded files, files replaced by folders,
  /// links or hard links. A file counts as unchanged only when everything `lstat` says of it
  /// (size, mode, times to the nanosecond, inode, a single link) is what the last move
  /// recorded; anything else is removed, never written through, and written anew. Links are
  /// never followed, so nothing outside the folder is read, written or deleted.
  ///
  /// When the index file is missing, unreadable or left by an interrupted move, or the folder
  /// is not there, the folder is emptied and the whole tree written: never a wrong tree. The
  /// index file is moved aside while the folder is being changed, so a kill at any moment
  /// leaves no index that claims a state the folder is not in. The user's work tree, index
  /// and HEAD are not touched. The caller must own `folder`: everything in it may be deleted.
  ///
  /// - Throws: `GitError` when the commit cannot be read or its tree cannot be written (a path
  ///   libgit2 refuses, a full disk).
  @discardableResult
  public func updateCheckout(_ id: ObjectID, in folder: URL, indexFile: URL) throws(GitError) -> CheckoutMove {
    let folderPath = folder.standardizedFileURL.path
    let indexPath = indexFile.standardizedFileURL.path
    // The index while a move is under way; its presence later means the move was interrupted.
    let movingPath = indexPath + ".moving"
    // The root tree of the commit the index describes, and that index's checksum, written
    // beside it by the last move.
    let treePath = indexPath + ".tree"
    // Read the commit before anything on disk changes: a missing commit leaves all as it was.
    let tree = try CommitHandle(in: self, id: id).treeID
    try removeTree(movingPath)
    try removeTree(movingPath + ".lock")

    var reason: String
    if !FileTree.isDirectory(folderPath) {
      reason = "no checkout folder yet"
    } else if rename(indexPath, movingPath) != 0 {
      let error = errno
      reason =
        error == ENOENT
        ? "no index of the last checkout (first use, or the last move was interrupted)"
        : "cannot take the index: \(String(cString: strerror(error)))"
    } else {
      do {
        // Read before anything changes the index: the tree file counts only for this very file.
        let last = Self.lastTree(treePath, index: movingPath)
        let index = try OwnedIndex(path: movingPath)
        let checkout = try CheckoutRepository(gitDirectory: gitDirectory, workTree: folderPath, index: index)
        let verified = try FileTree(index: index, indexPath: movingPath).sweep(folderPath, hashingWith: checkout)
        let forgotten = try forgetUnverified(in: index, keeping: verified)
        // Only the paths that differ: the sweep vouched for every other file. Without the last
        // tree (a checkout of an earlier version) or with the index emptied, all of them.
        var paths: [String]?
        if let forgotten, let last {
          paths = try changedPaths(from: last, to: tree) + forgotten
        }
        try checkOut(id, with: checkout, paths: paths)
        try finish(movingPath, as: indexPath, index: index, tree: tree, treePath: treePath)
        return .incremental
      } catch {
        // A corrupt index, a folder the sweep cannot clean, a checkout that failed half-way:
        // start again from nothing. A commit that cannot be checked out fails again below.
        reason = "the incremental move failed: \(error.localizedDescription)"
      }
    }

    try removeTree(movingPath)
    try removeTree(folderPath)
    do {
      try FileManager.default.createDirectory(atPath: folderPath, withIntermediateDirectories: true)
    } catch {
      throw .libgit2(operation: "create '\(folderPath)'", code: -1, message: error.localizedDescription)
    }
    // A path with no file yet: an empty index, so every file of the tree is written.
    let index = try OwnedIndex(path: movingPath)
    try checkOut(
      id, with: try CheckoutRepository(gitDirectory: gitDirectory, workTree: folderPath, index: index), paths: nil)
    try finish(movingPath, as: indexPath, index: index, tree: tree, treePath: treePath)
    return .full(reason: reason)
  }

  /// The tree id the last move wrote at `path`, when it wrote it for the index file at
  /// `index` as it is now (its trailing checksum); nil otherwise: no tree file, or one beside
  /// an index put there by something else (an older copy, a restored backup).
  private static func lastTree(_ path: String, index: String) -> ObjectID? {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8), let checksum = indexChecksum(index) else {
      return nil
    }
    let fields = text.split(whereSeparator: \.isWhitespace)
    guard fields.count == 2, fields[1] == checksum else { return nil }
    return ObjectID(hex: fields[0])
  }

  /// The last 20 bytes of the index file at `path` (the SHA-1 of all before them), in hex.
  private static func indexChecksum(_ path: String) -> String? {
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    guard let size = try? handle.seekToEnd(), size >= 32, (try? handle.seek(toOffset: size - 20)) != nil,
      let tail = try? handle.readToEnd(), tail.count == 20
    else { return nil }
    return tail.map { String(format: "%02x", $0) }.joined()
  }

  /// Every path that differs between trees `old` and `new` (both sides of each change).
  private func changedPaths(from old: ObjectID, to new: ObjectID) throws(GitError) -> [String] {
    guard old != new else { return [] }
    let diff = try Diff(
      in: self, from: try TreeHandle(in: self, id: old), to: try TreeHandle(in: self, id: new), pathspec: [])
    var paths = Set<String>()
    for position in 0..<git_diff_num_deltas(diff.handle) {
      guard let delta = git_diff_get_delta(diff.handle, position)?.pointee else { continue }
      if let path = delta.old_file.path { paths.insert(String(cString: path)) }
      if let path = delta.new_file.path { paths.insert(String(cString: path)) }
    }
    return paths.sorted()
  }

  /// Checks `id` out through `checkout`, a second handle on this repository whose work tree is
  /// the checkout folder and whose index is the checkout's: that index is the baseline (what
  /// the folder holds) and is updated to what was written. This handle's work tree, index and
  /// HEAD are never used.
  ///
  /// With `paths`, only those are compared and written (each exactly, no patterns): the
  /// others are known to be right already. An empty list writes nothing.
  private func checkOut(_ id: ObjectID, with checkout: CheckoutRepository, paths: [String]?) throws(GitError) {
    if let paths, paths.isEmpty { return }
    let folder = checkout.workTree
    let index = checkout.index
    var oid = id.oid
    var commit: OpaquePointer?
    try check(git_commit_lookup(&commit, checkout.handle, &oid), "read commit \(id.hex)") { code, _ in
      code == GIT_ENOTFOUND.rawValue ? .missingObject(id.hex) : nil
    }
    guard let commit else { throw .missingObject(id.hex) }
    defer { git_commit_free(commit) }
    var options = git_checkout_options()
    try check(
      git_checkout_options_init(&options, UInt32(GIT_CHECKOUT_OPTIONS_VERSION)), "prepare a checkout")
    // FORCE overwrites what differs; RECREATE_MISSING writes files the baseline lists but the
    // folder lacks; the REMOVE flags delete what the tree does not hold, ignored files too.
    options.checkout_strategy =
      GIT_CHECKOUT_FORCE.rawValue | GIT_CHECKOUT_RECREATE_MISSING.rawValue
      | GIT_CHECKOUT_REMOVE_UNTRACKED.rawValue | GIT_CHECKOUT_REMOVE_IGNORED.rawValue
    // Without a baseline libgit2 would compare with the repository's HEAD, not the folder.
    options.baseline_index = index.handle
    guard let paths else {
      try check(git_checkout_tree(checkout.handle, commit, &options), "check out \(id.hex) into '\(folder)'")
      return
    }
    // Exact paths: libgit2 then looks at nothing else in the folder.
    options.checkout_strategy |= GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH.rawValue
    let strings = paths.map { strdup($0) }
    defer { for string in strings { free(string) } }
    let code = strings.withUnsafeBufferPointer { buffer -> Int32 in
      options.paths = git_strarray(strings: UnsafeMutablePointer(mutating: buffer.baseAddress), count: buffer.count)
      return git_checkout_tree(checkout.handle, commit, &options)
    }
    try check(code, "check out \(id.hex) into '\(folder)'")
  }

  /// Drops from `index` every file the sweep did not find as recorded (removed by it, or
  /// already missing), so that the index describes exactly what the folder holds. libgit2
  /// then writes each of them as new: left in the baseline, a missing file whose type
  /// changes between the commits (a link that becomes a file) would not be written at all.
  ///
  /// Returns the paths dropped, or nil when the index was emptied instead.
  private func forgetUnverified(in index: OwnedIndex, keeping verified: Set<String>) throws(GitError) -> [String]? {
    var forgotten = [String]()
    for position in 0..<git_index_entrycount(index.handle) {
      guard let entry = git_index_get_byindex(index.handle, position), let path = entry.pointee.path else { continue }
      let text = String(cString: path)
      if !verified.contains(text) { forgotten.append(text) }
    }
    // Each removal shifts the entries after it; past a few hundred, starting from an empty
    // index (every file of the tree written anew) is cheaper and just as right.
    if forgotten.count > 512 {
      try check(git_index_clear(index.handle), "empty the checkout's index")
      return nil
    }
    for path in forgotten {
      try check(git_index_remove_bypath(index.handle, path), "drop '\(path)' from the checkout's index")
    }
    return forgotten
  }

  /// Writes the index and, beside it, the tree it holds, then gives the index its lasting name:
  /// only now does it vouch for the folder (and the tree file for it: one left by an
  /// interrupted move lies beside no index, and is never read).
  private func finish(_ movingPath: String, as indexPath: String, index: OwnedIndex, tree: ObjectID, treePath: String)
    throws(GitError)
  {
    try check(git_index_write(index.handle), "write the checkout's index '\(movingPath)'")
    do {
      guard let checksum = Self.indexChecksum(movingPath) else {
        throw GitError.libgit2(operation: "read '\(movingPath)'", code: -1, message: "no checksum at its end")
      }
      try Data((tree.hex + " " + checksum + "\n").utf8).write(to: URL(fileURLWithPath: treePath), options: .atomic)
    } catch {
      throw .libgit2(operation: "write '\(treePath)'", code: -1, message: error.localizedDescription)
    }
    guard rename(movingPath, indexPath) == 0 else {
      let message = String(cString: strerror(errno))
      throw .libgit2(operation: "rename '\(movingPath)' to '\(indexPath)'", code: -1, message: message)
    }
  }

  /// Deletes `path` and, if it is a real folder, everything in it; links are removed, never
  /// followed. A missing path is fine.
  private func removeTree(_ path: String) throws(GitError) {
    do throws(FileTreeError) {
      try FileTree.remove(Array(path.utf8))
    } catch {
      throw .libgit2(operation: "remove '\(path)'", code: -1, message: error.message)
    }
  }
}

/// A second `git_repository` handle on the same git directory, its work tree set to a
/// checkout folder (in memory only: nothing is written into the git directory) and its index
/// to the checkout's own. Freed in `deinit`; holds the index so that it outlives the handle.
final class CheckoutRepository {
  let handle: OpaquePointer
  let index: OwnedIndex
  let workTree: String

  init(gitDirectory: String, workTree: String, index: OwnedIndex) throws(GitError) {
    var repository: OpaquePointer?
    let code = git_repository_open_ext(&repository, gitDirectory, GIT_REPOSITORY_OPEN_NO_SEARCH.rawValue, nil)
    try check(code, "open repository at '\(gitDirectory)'")
    guard let repository else { throw .notARepository(path: gitDirectory) }
    do {
      // 0: no `.git` file in the folder and no core.worktree in the configuration.
      try check(git_repository_set_workdir(repository, workTree, 0), "use '\(workTree)' as the checkout's work tree")
      try check(git_repository_set_index(repository, index.handle), "use the checkout's own index")
    } catch {
      git_repository_free(repository)
      throw error
    }
    self.handle = repository
    self.index = index
    self.workTree = workTree
  }

  deinit { git_repository_free(handle) }
}

extension OwnedIndex {
  /// The index read from (and written back to) the file at `path`; a path with no file
  /// gives an empty index.
  convenience init(path: String) throws(GitError) {
    var index: OpaquePointer?
    try check(git_index_open(&index, path), "read the checkout's index '\(path)'")
    guard let index else { throw .libgit2(operation: "read the checkout's index '\(path)'", code: -1, message: "none") }
    self.init(index)
  }
}

/// A failed system call, with the path and the reason.
struct FileTreeError: Error, LocalizedError {
  var errorDescription: String? { message }

  var message: String

  init(_ call: String, _ path: [UInt8], _ error: Int32 = errno) {
    message = "\(call) '\(String(decoding: path, as: UTF8.self))': \(String(cString: strerror(error)))"
  }
}

/// What the last move wrote, as its index records it, and the sweep that makes a checkout
/// folder hold exactly that (or less) again before libgit2 moves it on.
///
/// libgit2 trusts a file whose size, mtime and mode match its index entry; a deploy can edit
/// a file and put its mtime back, or swap it for a hard link of a file elsewhere (which
/// libgit2 would then write through). So the sweep asks more: the inode, the change time
/// (which no program can set back) and a single link. Not the device: libgit2 1.5.1 records
/// `st_rdev` there (0 for a file), so it would never match. Paths are bytes, as the
/// file system has them: a name that is not UTF-8 is junk like any other.
struct FileTree {
  /// One index entry's recorded `lstat` facts.
  struct Recorded {
    var mode: UInt32
    var size: UInt32
    var mtime: (Int64, Int64)
    var ctime: (Int64, Int64)
    var inode: UInt32
    var id: git_oid
  }

  var files = [String: Recorded]()
  var folders = Set<String>()
  /// When the index was written: a file changed at or after it may not show it in its times.
  var written: (Int64, Int64)
  /// Whether libgit2 records nanoseconds; without them only seconds can be compared.
  let nanoseconds: Bool

  init(index: OwnedIndex, indexPath: String) throws(FileTreeError) {
    nanoseconds = git_libgit2_features() & Int32(GIT_FEATURE_NSEC.rawValue) != 0
    var status = stat()
    guard lstat(indexPath, &status) == 0 else { throw FileTreeError("lstat", Array(indexPath.utf8)) }
    written = (Int64(status.st_mtim.tv_sec), nanoseconds ? Int64(status.st_mtim.tv_nsec) : 0)
    let count = git_index_entrycount(index.handle)
    files.reserveCapacity(count)
    for position in 0..<count {
      guard let entry = git_index_get_byindex(index.handle, position)?.pointee, let cPath = entry.path else {
        continue
      }
      // Only plain files and links: a submodule (gitlink) folder is never trusted.
      let type = entry.mode & 0o170000
      guard type == 0o100000 || type == 0o120000 else { continue }
      let path = String(cString: cPath)
      files[path] = Recorded(
        mode: entry.mode, size: entry.file_size,
        mtime: (Int64(entry.mtime.seconds), Int64(entry.mtime.nanoseconds)),
        ctime: (Int64(entry.ctime.seconds), Int64(entry.ctime.nanoseconds)),
        inode: entry.ino, id: entry.id)
      var folder = path[...]
      while let slash = folder.lastIndex(of: "/") {
        folder = folder[..<slash]
        if !folders.insert(String(folder)).inserted { break }
      }
    }
  }

  /// Removes from `root` everything that is not a file or link of the index exactly as
  /// recorded, and every folder that holds none of them. Returns the paths of the files
  /// and links that were found as recorded and left in place.
  ///
  /// A plain file whose times, inode or size changed but whose type, executable bit and single
  /// link are right is read and hashed as it is (no filters; a file a filter changed on
  /// checkout is written again): when it still holds the recorded blob it stays, its index
  /// entry refreshed, so
  /// that a deploy that only touches files (`touch`, `chown -R`, a copy of the same bytes) does
  /// not cost a rewrite of each.
  func sweep(_ root: String, hashingWith checkout: CheckoutRepository) throws(FileTreeError) -> Set<String> {
    var verified = Set<String>()
    verified.reserveCapacity(files.count)
    let path = Array(root.utf8)
    let descriptor = Self.withCString(path) { open($0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
    guard descriptor >= 0 else { throw FileTreeError("open", path) }
    defer { close(descriptor) }
    try sweep(folder: path, descriptor: descriptor, relative: [], checkout: checkout, verified: &verified)
    return verified
  }

  /// Sweeps the folder at `folder`, open as `descriptor`. Its entries are looked at through
  /// the descriptor (`fstatat`), so that the kernel does not walk the whole path for each of
  /// tens of thousands of files; what is removed is removed by its path.
  private func sweep(
    folder: [UInt8], descriptor: Int32, relative: [UInt8], checkout: CheckoutRepository,
    verified: inout Set<String>
  ) throws(FileTreeError) {
    for name in try Self.names(in: descriptor, path: folder) {
      let path = folder + [UInt8(ascii: "/")] + name
      let key = relative.isEmpty ? name : relative + [UInt8(ascii: "/")] + name
      var status = stat()
      guard Self.withCString(name, { fstatat(descriptor, $0, &status, AT_SYMLINK_NOFOLLOW) }) == 0 else {
        throw FileTreeError("lstat", path)
      }
      let text = String(decoding: key, as: UTF8.self)
      // A name that is not valid UTF-8 cannot be a key of the index (read as UTF-8 here).
      let exact = Array(text.utf8) == key
      if status.st_mode & S_IFMT == S_IFDIR {
        if exact && folders.contains(text) {
          try Self.makeUsable(path, status)
          let child = Self.withCString(name) {
            openat(descriptor, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
          }
          guard child >= 0 else { throw FileTreeError("open", path) }
          defer { close(child) }
          try sweep(folder: path, descriptor: child, relative: key, checkout: checkout, verified: &verified)
        } else {
          try Self.remove(path)
        }
      } else if exact && unchanged(text, status) {
        verified.insert(text)
      } else if exact && sameContent(text, path, status, checkout) {
        verified.insert(text)
      } else {
        guard Self.withCString(path, { unlink($0) }) == 0 else { throw FileTreeError("unlink", path) }
      }
    }
  }

  /// True when `status` is what the index recorded for `path` and was recorded safely before
  /// the index was written.
  private func unchanged(_ path: String, _ status: stat) -> Bool {
    guard let recorded = files[path] else { return false }
    let type = status.st_mode & S_IFMT
    guard UInt32(type) == recorded.mode & 0o170000 else { return false }
    if type == S_IFREG {
      // A hard link shares its inode with a name elsewhere: writing it would write there.
      guard status.st_nlink == 1, (status.st_mode & 0o100 != 0) == (recorded.mode & 0o100 != 0) else { return false }
    }
    let mtime = (Int64(status.st_mtim.tv_sec), nanoseconds ? Int64(status.st_mtim.tv_nsec) : 0)
    let ctime = (Int64(status.st_ctim.tv_sec), nanoseconds ? Int64(status.st_ctim.tv_nsec) : 0)
    // Changed in the same tick as the index was written: the times cannot tell (git's racy case).
    guard ctime < written else { return false }
    return UInt32(truncatingIfNeeded: status.st_size) == recorded.size && mtime == recorded.mtime
      && ctime == recorded.ctime && UInt32(truncatingIfNeeded: status.st_ino) == recorded.inode
  }

  /// True when `path` (at `full`) is a plain file of the right kind that still holds the
  /// recorded blob; its index entry then takes the file's present `lstat` facts. False when
  /// anything cannot be read or written: the file is then removed and written anew.
  private func sameContent(_ path: String, _ full: [UInt8], _ status: stat, _ checkout: CheckoutRepository) -> Bool {
    guard let recorded = files[path], status.st_mode & S_IFMT == S_IFREG, recorded.mode & 0o170000 == 0o100000,
      status.st_nlink == 1, (status.st_mode & 0o100 != 0) == (recorded.mode & 0o100 != 0)
    else { return false }
    var id = git_oid()
    // No filters (""): the bytes themselves must be the blob. With the folder's attributes a
    // deploy could add a `.gitattributes` whose filter makes an edited file hash as the blob.
    let hashed = Self.withCString(full) { git_repository_hashfile(&id, checkout.handle, $0, GIT_OBJECT_BLOB, "") }
    var expected = recorded.id
    guard hashed == 0, git_oid_equal(&id, &expected) == 1 else {
      git_error_clear()
      return false
    }
    guard let current = git_index_get_bypath(checkout.index.handle, path, 0)?.pointee else { return false }
    var entry = current
    entry.ctime = git_index_time(
      seconds: Int32(truncatingIfNeeded: status.st_ctim.tv_sec), nanoseconds: UInt32(status.st_ctim.tv_nsec))
    entry.mtime = git_index_time(
      seconds: Int32(truncatingIfNeeded: status.st_mtim.tv_sec), nanoseconds: UInt32(status.st_mtim.tv_nsec))
    entry.ino = UInt32(truncatingIfNeeded: status.st_ino)
    entry.uid = status.st_uid
    entry.gid = status.st_gid
    entry.file_size = UInt32(truncatingIfNeeded: status.st_size)
    // Our own copy of the path: the entry being replaced owns the one it points at.
    let added = path.withCString { copy -> Int32 in
      entry.path = copy
      return git_index_add(checkout.index.handle, &entry)
    }
    guard added == 0 else {
      git_error_clear()
      return false
    }
    return true
  }

  /// The entries of folder `path`, without `.` and `..`.
  static func names(in path: [UInt8]) throws(FileTreeError) -> [[UInt8]] {
    guard let directory = withCString(path, { opendir($0) }) else { throw FileTreeError("opendir", path) }
    defer { closedir(directory) }
    return try names(of: directory, path: path)
  }

  /// The entries of the folder open as `descriptor` (at `path`), without `.` and `..`; the
  /// descriptor stays open.
  static func names(in descriptor: Int32, path: [UInt8]) throws(FileTreeError) -> [[UInt8]] {
    let copy = dup(descriptor)
    guard copy >= 0 else { throw FileTreeError("dup", path) }
    guard let directory = fdopendir(copy) else {
      let error = errno
      close(copy)
      throw FileTreeError("fdopendir", path, error)
    }
    defer { closedir(directory) }
    // A copy shares its position with the original: start at the beginning.
    rewinddir(directory)
    return try names(of: directory, path: path)
  }

  private static func names(of directory: OpaquePointer, path: [UInt8]) throws(FileTreeError) -> [[UInt8]] {
    var names = [[UInt8]]()
    while true {
      errno = 0
      guard let entry = readdir(directory) else {
        if errno != 0 { throw FileTreeError("readdir", path) }
        return names
      }
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        Array(raw.prefix { $0 != 0 })
      }
      if name == [46] || name == [46, 46] { continue }
      names.append(name)
    }
  }

  /// Gives the owner back the right to list and change a folder a deploy locked.
  static func makeUsable(_ path: [UInt8], _ status: stat) throws(FileTreeError) {
    guard status.st_mode & S_IRWXU != S_IRWXU else { return }
    guard withCString(path, { chmod($0, (status.st_mode & 0o7777) | S_IRWXU) }) == 0 else {
      throw FileTreeError("chmod", path)
    }
  }

  /// Deletes `path`: a real folder with all it holds, anything else (a link too) by unlinking
  /// it. Never follows a link. A missing path is fine.
  static func remove(_ path: [UInt8]) throws(FileTreeError) {
    var status = stat()
    guard withCString(path, { lstat($0, &status) }) == 0 else {
      if errno == ENOENT { return }
      throw FileTreeError("lstat", path)
    }
    guard status.st_mode & S_IFMT == S_IFDIR else {
      guard withCString(path, { unlink($0) }) == 0 else { throw FileTreeError("unlink", path) }
      return
    }
    try makeUsable(path, status)
    for name in try names(in: path) { try remove(path + [UInt8(ascii: "/")] + name) }
    guard withCString(path, { rmdir($0) }) == 0 else { throw FileTreeError("rmdir", path) }
  }

  /// True when `path` is a real folder (not a link to one).
  static func isDirectory(_ path: String) -> Bool {
    var status = stat()
    return lstat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR
  }

  static func withCString<Result>(_ path: [UInt8], _ body: (UnsafePointer<CChar>) -> Result) -> Result {
    (path + [0]).withUnsafeBufferPointer { bytes in
      bytes.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) }
    }
  }
}
