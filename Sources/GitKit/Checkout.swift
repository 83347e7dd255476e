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
        let files = try FileTree(index: index, indexPath: movingPath)
        let verified = try files.sweep(folderPath, hashingWith: checkout)
        let forgotten = try forgetUnverified(in: index, files: files, verified: verified)
        // Only the paths that differ: the sweep vouched for every other file. Without the last
        // tree (a checkout of an earlier version) or with the index emptied, all of them.
        var paths: [[UInt8]]?
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

  /// Every path that differs between trees `old` and `new` (both sides of each change), as
  /// the trees spell them (bytes: a name need not be UTF-8).
  private func changedPaths(from old: ObjectID, to new: ObjectID) throws(GitError) -> [[UInt8]] {
    guard old != new else { return [] }
    let diff = try Diff(
      in: self, from: try TreeHandle(in: self, id: old), to: try TreeHandle(in: self, id: new), pathspec: [])
    var paths = Set<[UInt8]>()
    for position in 0..<git_diff_num_deltas(diff.handle) {
      guard let delta = git_diff_get_delta(diff.handle, position)?.pointee else { continue }
      for path in [delta.old_file.path, delta.new_file.path] {
        if let path { paths.insert(Array(UnsafeRawBufferPointer(start: path, count: strlen(path)))) }
      }
    }
    return paths.sorted { $0.lexicographicallyPrecedes($1) }
  }

  /// Checks `id` out through `checkout`, a second handle on this repository whose work tree is
  /// the checkout folder and whose index is the checkout's: that index is the baseline (what
  /// the folder holds) and is updated to what was written. This handle's work tree, index and
  /// HEAD are never used.
  ///
  /// With `paths`, only those are compared and written (each exactly, no patterns): the
  /// others are known to be right already. An empty list writes nothing.
  private func checkOut(_ id: ObjectID, with checkout: CheckoutRepository, paths: [[UInt8]]?) throws(GitError) {
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
    let strings = paths.map { path -> UnsafeMutablePointer<CChar>? in
      let copy = UnsafeMutablePointer<CChar>.allocate(capacity: path.count + 1)
      path.withUnsafeBytes { bytes in
        UnsafeMutableRawPointer(copy).copyMemory(from: bytes.baseAddress!, byteCount: path.count)
      }
      copy[path.count] = 0
      return copy
    }
    defer { for string in strings { string?.deallocate() } }
    let code = strings.withUnsafeBufferPointer { buffer -> Int32 in
      options.paths = git_strarray(strings: UnsafeMutablePointer(mutating: buffer.baseAddress), count: buffer.count)
      return git_checkout_tree(checkout.handle, commit, &options)
    }
    try check(code, "check out \(id.hex) into '\(folder)'")
  }

  /// Drops from `index` every file the sweep did not find as recorded (removed by it, or
  /// already missing) and every entry it never trusts (`FileTree.untrusted`), so that the
  /// index describes exactly what the folder holds. libgit2 then writes each of them as new:
  /// left in the baseline, a missing file whose type changes between the commits (a link that
  /// becomes a file) would not be written at all.
  ///
  /// Returns the paths dropped, or nil when the index was emptied instead.
  private func forgetUnverified(in index: OwnedIndex, files: FileTree, verified: [Bool]) throws(GitError)
    -> [[UInt8]]?
  {
    var forgotten = files.untrusted
    for number in 0..<files.count where !verified[number] { forgotten.append(files.path(of: number)) }
    // Each removal shifts the entries after it; past a few hundred, starting from an empty
    // index (every file of the tree written anew) is cheaper and just as right.
    if forgotten.count > 512 {
      try check(git_index_clear(index.handle), "empty the checkout's index")
      return nil
    }
    for path in forgotten {
      let code = FileTree.withCString(path) { git_index_remove_bypath(index.handle, $0) }
      try check(code, "drop '\(String(decoding: path, as: UTF8.self))' from the checkout's index")
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

  /// The index's files and links in byte order of their paths (the index's own order), the
  /// paths one after another in `pathBytes`: entry `i`'s is `pathStart[i]..<pathStart[i + 1]`.
  /// A folder's entries are then one run, so a name is found by binary search, with no
  /// String or hashing per file (they were most of a sweep's own time).
  private var pathBytes: [UInt8] = []
  private var pathStart: [Int] = [0]
  private var records: [Recorded] = []
  /// Paths of the index's other entries (submodules): never trusted, always written anew.
  private(set) var untrusted: [[UInt8]] = []
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
    records.reserveCapacity(count)
    pathStart.reserveCapacity(count + 1)
    for position in 0..<count {
      guard let entry = git_index_get_byindex(index.handle, position)?.pointee, let cPath = entry.path else {
        continue
      }
      let path = UnsafeRawBufferPointer(start: cPath, count: strlen(cPath))
      // Only plain files and links: a submodule (gitlink) folder is never trusted.
      let type = entry.mode & 0o170000
      guard type == 0o100000 || type == 0o120000 else {
        untrusted.append(Array(path))
        continue
      }
      pathBytes.append(contentsOf: path)
      pathStart.append(pathBytes.count)
      records.append(
        Recorded(
          mode: entry.mode, size: entry.file_size,
          mtime: (Int64(entry.mtime.seconds), Int64(entry.mtime.nanoseconds)),
          ctime: (Int64(entry.ctime.seconds), Int64(entry.ctime.nanoseconds)),
          inode: entry.ino, id: entry.id))
    }
    // libgit2 keeps a case-sensitive index in this order; any other (an index read without
    // case) is put in it here, so that the searches below stay right.
    if (1..<max(records.count, 1)).contains(where: { compare($0 - 1, $0) > 0 }) { sortEntries() }
  }

  /// The path of entry `number`, as the index holds it.
  func path(of number: Int) -> [UInt8] { Array(pathBytes[pathStart[number]..<pathStart[number + 1]]) }

  /// How many files and links the index records.
  var count: Int { records.count }

  /// Removes from `root` everything that is not a file or link of the index exactly as
  /// recorded, and every folder that holds none of them. Returns, for each entry (`path(of:)`),
  /// whether its file or link was found as recorded and left in place.
  ///
  /// A plain file whose times, inode or size changed but whose type, executable bit and single
  /// link are right is read and hashed as it is (no filters; a file a filter changed on
  /// checkout is written again): when it still holds the recorded blob it stays, its index
  /// entry refreshed, so
  /// that a deploy that only touches files (`touch`, `chown -R`, a copy of the same bytes) does
  /// not cost a rewrite of each.
  func sweep(_ root: String, hashingWith checkout: CheckoutRepository) throws(FileTreeError) -> [Bool] {
    var verified = [Bool](repeating: false, count: records.count)
    var path = Array(root.utf8)
    let descriptor = Self.withCString(path) { open($0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
    guard descriptor >= 0 else { throw FileTreeError("open", path) }
    defer { close(descriptor) }
    var key = [UInt8]()
    try sweep(descriptor: descriptor, path: &path, key: &key, checkout: checkout, verified: &verified)
    return verified
  }

  /// Sweeps the folder at `path` (`key` inside the checkout, "" for its root), open as
  /// `descriptor`. Its entries are looked at and unlinked through the descriptor (`fstatat`,
  /// `unlinkat`), so that the kernel does not walk the whole path for each of tens of
  /// thousands of files. `path` and `key` are scratch buffers, given back as they came.
  private func sweep(
    descriptor: Int32, path: inout [UInt8], key: inout [UInt8], checkout: CheckoutRepository,
    verified: inout [Bool]
  ) throws(FileTreeError) {
    let names = try Self.names(in: descriptor, path: path)
    let pathLength = path.count
    let keyLength = key.count
    defer {
      path.removeSubrange(pathLength...)
      key.removeSubrange(keyLength...)
    }
    for number in 0..<names.count {
      let name = names[number]
      path.removeSubrange(pathLength...)
      path.append(UInt8(ascii: "/"))
      path.append(contentsOf: name)
      key.removeSubrange(keyLength...)
      if keyLength > 0 { key.append(UInt8(ascii: "/")) }
      key.append(contentsOf: name)
      var status = stat()
      guard names.withCString(number, { fstatat(descriptor, $0, &status, AT_SYMLINK_NOFOLLOW) }) == 0 else {
        throw FileTreeError("lstat", path)
      }
      if status.st_mode & S_IFMT == S_IFDIR {
        if holdsFolder(&key) {
          try Self.makeUsable(path, status)
          let child = names.withCString(number) {
            openat(descriptor, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
          }
          guard child >= 0 else { throw FileTreeError("open", path) }
          defer { close(child) }
          try sweep(descriptor: child, path: &path, key: &key, checkout: checkout, verified: &verified)
        } else {
          try Self.remove(path)
        }
        continue
      }
      if let entry = entry(key) {
        if unchanged(entry, status) || sameContent(entry, key, path, status, checkout) {
          verified[entry] = true
          continue
        }
      }
      guard names.withCString(number, { unlinkat(descriptor, $0, 0) }) == 0 else {
        throw FileTreeError("unlink", path)
      }
    }
  }

  /// -1, 0 or 1 as the path of entry `number` sorts before, as or after `key`, byte by byte.
  @inline(__always)
  private func compare(_ number: Int, _ key: UnsafeRawBufferPointer) -> Int {
    let start = pathStart[number]
    let length = pathStart[number + 1] - start
    let common = min(length, key.count)
    let order = pathBytes.withUnsafeBytes { bytes in
      common == 0 ? 0 : memcmp(bytes.baseAddress! + start, key.baseAddress!, common)
    }
    if order != 0 { return order < 0 ? -1 : 1 }
    return length == key.count ? 0 : (length < key.count ? -1 : 1)
  }

  private func compare(_ left: Int, _ right: Int) -> Int {
    pathBytes.withUnsafeBytes { bytes in
      compare(left, UnsafeRawBufferPointer(rebasing: bytes[pathStart[right]..<pathStart[right + 1]]))
    }
  }

  /// The first entry whose path does not sort before `key`.
  private func lowerBound(_ key: UnsafeRawBufferPointer) -> Int {
    var low = 0
    var high = records.count
    while low < high {
      let middle = (low + high) / 2
      if compare(middle, key) < 0 { low = middle + 1 } else { high = middle }
    }
    return low
  }

  /// The entry whose path is `key`, or nil.
  private func entry(_ key: [UInt8]) -> Int? {
    key.withUnsafeBytes { key in
      let number = lowerBound(key)
      return number < records.count && compare(number, key) == 0 ? number : nil
    }
  }

  /// Whether some file or link of the index lies inside the folder `key`: the entries that
  /// start with "key/" are the run that starts where "key/" would.
  private func holdsFolder(_ key: inout [UInt8]) -> Bool {
    key.append(UInt8(ascii: "/"))
    defer { key.removeLast() }
    return key.withUnsafeBytes { prefix in
      let number = lowerBound(prefix)
      guard number < records.count, pathStart[number + 1] - pathStart[number] >= prefix.count else { return false }
      return pathBytes.withUnsafeBytes { bytes in
        memcmp(bytes.baseAddress! + pathStart[number], prefix.baseAddress!, prefix.count) == 0
      }
    }
  }

  /// Puts the entries in byte order of their paths.
  private mutating func sortEntries() {
    let paths = (0..<records.count).map { path(of: $0) }
    let order = (0..<records.count).sorted { paths[$0].lexicographicallyPrecedes(paths[$1]) }
    let sortedRecords = order.map { records[$0] }
    pathBytes.removeAll(keepingCapacity: true)
    pathStart = [0]
    for number in order {
      pathBytes.append(contentsOf: paths[number])
      pathStart.append(pathBytes.count)
    }
    records = sortedRecords
  }

  /// True when `status` is what the index recorded for entry `number` and was recorded safely
  /// before the index was written.
  private func unchanged(_ number: Int, _ status: stat) -> Bool {
    let recorded = records[number]
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

  /// True when entry `number` (`key` in the index, at `full`) is a plain file of the right kind
  /// that still holds the recorded blob; its index entry then takes the file's present `lstat`
  /// facts. False when anything cannot be read or written: the file is then removed and
  /// written anew.
  private func sameContent(
    _ number: Int, _ key: [UInt8], _ full: [UInt8], _ status: stat, _ checkout: CheckoutRepository
  ) -> Bool {
    let recorded = records[number]
    guard status.st_mode & S_IFMT == S_IFREG, recorded.mode & 0o170000 == 0o100000,
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
    // Our own copy of the path: the entry being replaced owns the one it points at.
    let added = Self.withCString(key) { path -> Int32 in
      guard let current = git_index_get_bypath(checkout.index.handle, path, 0)?.pointee else { return -1 }
      var entry = current
      entry.ctime = git_index_time(
        seconds: Int32(truncatingIfNeeded: status.st_ctim.tv_sec), nanoseconds: UInt32(status.st_ctim.tv_nsec))
      entry.mtime = git_index_time(
        seconds: Int32(truncatingIfNeeded: status.st_mtim.tv_sec), nanoseconds: UInt32(status.st_mtim.tv_nsec))
      entry.ino = UInt32(truncatingIfNeeded: status.st_ino)
      entry.uid = status.st_uid
      entry.gid = status.st_gid
      entry.file_size = UInt32(truncatingIfNeeded: status.st_size)
      entry.path = path
      return git_index_add(checkout.index.handle, &entry)
    }
    guard added == 0 else {
      git_error_clear()
      return false
    }
    return true
  }

  /// The names in a folder, without `.` and `..`: one buffer for all of them, each name
  /// followed by a zero byte so that it can be handed to the `*at` calls as it is.
  struct Names {
    private var bytes: [UInt8] = []
    private var starts: [Int] = [0]

    var count: Int { starts.count - 1 }

    subscript(number: Int) -> ArraySlice<UInt8> { bytes[starts[number]..<starts[number + 1] - 1] }

    func withCString<Result>(_ number: Int, _ body: (UnsafePointer<CChar>) -> Result) -> Result {
      bytes.withUnsafeBytes { raw in body((raw.baseAddress! + starts[number]).assumingMemoryBound(to: CChar.self)) }
    }

    mutating func append(_ name: UnsafeRawBufferPointer) {
      bytes.append(contentsOf: name)
      bytes.append(0)
      starts.append(bytes.count)
    }
  }

  /// The entries of folder `path`, without `.` and `..`.
  static func names(in path: [UInt8]) throws(FileTreeError) -> Names {
    guard let directory = withCString(path, { opendir($0) }) else { throw FileTreeError("opendir", path) }
    defer { closedir(directory) }
    return try names(of: directory, path: path)
  }

  /// The entries of the folder open as `descriptor` (at `path`), without `.` and `..`; the
  /// descriptor stays open.
  static func names(in descriptor: Int32, path: [UInt8]) throws(FileTreeError) -> Names {
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

  private static func names(of directory: OpaquePointer, path: [UInt8]) throws(FileTreeError) -> Names {
    var names = Names()
    while true {
      errno = 0
      guard let entry = readdir(directory) else {
        if errno != 0 { throw FileTreeError("readdir", path) }
        return names
      }
      withUnsafeBytes(of: entry.pointee.d_name) { raw in
        let name = UnsafeRawBufferPointer(rebasing: raw[..<(raw.firstIndex(of: 0) ?? raw.count)])
        if !name.elementsEqual([46]) && !name.elementsEqual([46, 46]) { names.append(name) }
      }
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
    let names = try names(in: path)
    for number in 0..<names.count { try remove(path + [UInt8(ascii: "/")] + names[number]) }
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
