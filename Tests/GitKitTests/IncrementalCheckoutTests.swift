import Foundation
import GitKit
import History
import TestSupport
import Testing

/// One checkout folder moved from commit to commit while a hostile "deploy" damages it in
/// between: after every move it must hold exactly the commit's tree, as `git archive` gives it.
@Suite struct IncrementalCheckoutTests {
  /// Commits with nested folders, an executable, a symbolic link, an ignore file, a file that
  /// becomes a folder and back, and files each commit changes. Returns the repository and the
  /// commits, oldest first.
  func history(in directory: TemporaryDirectory) throws -> (URL, [String]) {
    let path = directory.url.appendingPathComponent("repo")
    try FileManager.default.createDirectory(at: path, withIntermediateDirectories: true)
    try git(["init", "-q", "-b", "main"], in: path)
    let steps = [
      // Everything the deploy below damages exists in every commit.
      """
      mkdir -p a/b/c deploy vanish
      printf 'keep\\n' > keep.txt; printf 'deep 1\\n' > a/b/c/deep.txt; printf 'other\\n' > a/b/other.txt
      printf '#!/bin/sh\\necho run\\n' > deploy/run.sh; chmod 755 deploy/run.sh
      printf 'plain\\n' > deploy/plain.sh; printf 'one\\n' > file1; printf 'two\\n' > file2; printf 'hard\\n' > hard.txt
      printf 'gone\\n' > vanish/only.txt; ln -s a/b/other.txt link
      printf '*.log\\nbuild/\\n' > .gitignore
      """,
      """
      printf 'deep 2\\n' > a/b/c/deep.txt; chmod 755 deploy/plain.sh; rm -r vanish
      mkdir -p new/nested; printf 'new\\n' > new/nested/file.txt; rm link; ln -s deploy/run.sh link
      rm thing 2>/dev/null; true
      """,
      """
      printf 'deep 3\\n' > a/b/c/deep.txt; chmod 644 deploy/run.sh
      mkdir -p thing; printf 'inner\\n' > thing/inner.txt; printf 'ignored in an older tree\\n' > a/b/c/trace.log
      """,
      """
      rm -r thing; printf 'now a file\\n' > thing; rm -r new; rm link; printf 'link no more\\n' > link
      printf 'deep 4 is longer\\n' > a/b/c/deep.txt
      """,
    ]
    var commits = [String]()
    for (number, script) in steps.enumerated() {
      let output = try runProcess("/bin/sh", ["-c", script], in: path)
      #expect(output.status == 0, "history step \(number): \(output.stderr)")
      try git(["add", "-A", "-f"], in: path)
      try git(["commit", "-q", "-m", "step \(number)"], in: path)
      commits.append(lines(try git(["rev-parse", "HEAD"], in: path))[0])
    }
    return (path, commits)
  }

  /// What `git archive <commit> | tar -x` writes into a fresh folder, as a digest.
  func archived(_ commit: String, from repository: URL, in directory: TemporaryDirectory) throws -> [String: String] {
    let target = directory.url.appendingPathComponent("archive-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: target) }
    // --no-same-permissions: tar applies the umask, as libgit2 does when it writes files.
    let output = try runProcess(
      "/bin/sh", ["-c", "git -C \"$REPO\" archive \"$COMMIT\" | tar -x --no-same-permissions -f - -C \"$TARGET\""],
      environment: gitEnvironment.merging(
        ["REPO": repository.path, "COMMIT": commit, "TARGET": target.path], uniquingKeysWith: { $1 }))
    #expect(output.status == 0, "git archive: \(output.stderr)")
    return try treeDigest(of: target)
  }

  /// Files and a folder outside the checkout that the deploy links to: none may change.
  /// The test history, a folder outside it, and a workspace whose checkout is at the first commit.
  func checkedOutHistory() throws -> (
    directory: TemporaryDirectory, path: URL, commits: [String], ids: [ObjectID], outside: URL,
    repository: Repository, checkout: URL, index: URL
  ) {
    let directory = try TemporaryDirectory()
    let (path, commits) = try history(in: directory)
    let outsideFolder = try outside(in: directory)
    let repository = try Repository(at: path.path)
    let (checkout, index) = try workspace(in: directory)
    let ids = try commits.map { try #require(ObjectID(hex: $0)) }
    try repository.updateCheckout(ids[0], in: checkout, indexFile: index)
    return (directory, path, commits, ids, outsideFolder, repository, checkout, index)
  }

  /// A workspace folder in `directory`: where the checkout goes, and its index file beside it.
  func workspace(in directory: TemporaryDirectory) throws -> (checkout: URL, index: URL) {
    let workspace = directory.url.appendingPathComponent("workspace")
    try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
    return (workspace.appendingPathComponent("checkout"), workspace.appendingPathComponent("checkout.index"))
  }

  func outside(in directory: TemporaryDirectory) throws -> URL {
    let folder = directory.url.appendingPathComponent("outside")
    try FileManager.default.createDirectory(
      at: folder.appendingPathComponent("victim/c"), withIntermediateDirectories: true)
    try "outside, linked to\n".write(to: folder.appendingPathComponent("hard.txt"), atomically: true, encoding: .utf8)
    try "victim\n".write(to: folder.appendingPathComponent("victim/other.txt"), atomically: true, encoding: .utf8)
    try "victim deep\n".write(to: folder.appendingPathComponent("victim/c/deep.txt"), atomically: true, encoding: .utf8)
    try "must stay\n".write(to: folder.appendingPathComponent("victim/c/keep.me"), atomically: true, encoding: .utf8)
    return folder
  }

  /// Every kind of damage a deploy can do in its checkout, by a real shell.
  static let hostileDeploy = """
    set -e
    printf 'junk\\n' > junk.txt
    mkdir -p junkdir/sub emptyjunk/deeper a/b/c/emptyjunk
    printf 'x\\n' > junkdir/sub/file
    printf 'ignored\\n' > debug.log
    mkdir -p build; printf 'object\\n' > build/out.o; printf 'ignored deep\\n' > a/b/c/trace.log
    mkdir -p .git; printf 'not a repository\\n' > .git/HEAD
    # An edit that keeps the size and the modification time: only ctime and the inode tell.
    touch -r keep.txt "$OUTSIDE/stamp"
    printf 'KEEP\\n' > keep.txt
    touch -r "$OUTSIDE/stamp" keep.txt
    rm "$OUTSIDE/stamp"
    rm a/b/c/deep.txt
    chmod -x deploy/run.sh 2>/dev/null || true
    chmod +x deploy/plain.sh
    rm file1; mkdir file1; printf 'in a folder now\\n' > file1/inside
    rm file2; ln -s "$OUTSIDE/hard.txt" file2
    rm hard.txt; ln "$OUTSIDE/hard.txt" hard.txt
    # A tracked folder replaced by a link out of the checkout: writes through it would land there.
    mv a/b a/b.moved; rm -r a/b.moved; ln -s "$OUTSIDE/victim" a/b
    rm -f link; mkdir link; printf 'x\\n' > link/x
    """

  func damage(_ checkout: URL, outside: URL) throws {
    let environment = ["OUTSIDE": outside.path, "PATH": "/usr/bin:/bin"]
    let output = try runProcess("/bin/sh", ["-c", Self.hostileDeploy], in: checkout, environment: environment)
    #expect(output.status == 0, "hostile deploy: \(output.stderr)")
  }

  @Test("each move after a hostile deploy gives exactly the commit's tree, and nothing outside changes")
  func hostileDeploysAreUndone() throws {
    let directory = try TemporaryDirectory()
    let (path, commits) = try history(in: directory)
    let outsideFolder = try outside(in: directory)
    let outsideBefore = try treeDigest(of: outsideFolder)
    // The user's own work tree stays dirty and is never looked at.
    try "local edit\n".write(to: path.appendingPathComponent("keep.txt"), atomically: true, encoding: .utf8)
    let indexBefore = try Data(contentsOf: path.appendingPathComponent(".git/index"))
    let statusBefore = try git(["status", "--porcelain"], in: path)
    let headBefore = try git(["rev-parse", "HEAD"], in: path)

    let repository = try Repository(at: path.path)
    let (checkout, index) = try workspace(in: directory)
    // Forwards, backwards, and across the file that turns into a folder and back.
    let order = [0, 2, 1, 3, 0, 3, 2, 2, 1]
    for (step, position) in order.enumerated() {
      let commit = try #require(ObjectID(hex: commits[position]))
      let move = try repository.updateCheckout(commit, in: checkout, indexFile: index)
      if step == 0 {
        #expect(move != .incremental)
      } else {
        #expect(move == .incremental, "step \(step): \(move)")
      }
      let expected = try archived(commits[position], from: path, in: directory)
      let actual = try treeDigest(of: checkout)
      #expect(actual == expected, "step \(step) at commit \(position)")
      for key in Set(actual.keys).symmetricDifference(expected.keys).sorted() {
        Issue.record("step \(step): \(key) is \(actual[key] ?? "missing"), git has \(expected[key] ?? "nothing")")
      }
      #expect(try treeDigest(of: outsideFolder) == outsideBefore, "step \(step): something outside changed")
      #expect(!FileManager.default.fileExists(atPath: checkout.appendingPathComponent(".git").path))
      try damage(checkout, outside: outsideFolder)
    }
    #expect(try Data(contentsOf: path.appendingPathComponent(".git/index")) == indexBefore)
    #expect(try git(["status", "--porcelain"], in: path) == statusBefore)
    #expect(try git(["rev-parse", "HEAD"], in: path) == headBefore)
  }

  @Test("an edit and a hard link that keep size and mtime are caught once the index is older than the files")
  func sameSizeAndTimeIsCaught() throws {
    let (directory, path, commits, ids, outsideFolder, repository, checkout, index) = try checkedOutHistory()
    // Later, another move: now keep.txt and hard.txt (the same in both commits) are older
    // than the index by far, so libgit2 alone would trust their size and mtime.
    Thread.sleep(forTimeInterval: 1.2)
    // A file both commits share is left as it is, not written again: the move is by the difference.
    let shared = checkout.appendingPathComponent("a/b/other.txt").path
    // (The inode and the change time: a file written anew could reuse the inode number.)
    func identity() -> [Int64] {
      var status = stat()
      guard lstat(shared, &status) == 0 else { return [] }
      return [Int64(status.st_ino), Int64(status.st_ctim.tv_sec), Int64(status.st_ctim.tv_nsec)]
    }
    let before = identity()
    #expect(try repository.updateCheckout(ids[1], in: checkout, indexFile: index) == .incremental)
    #expect(!before.isEmpty && identity() == before)
    try "HARD\n".write(to: outsideFolder.appendingPathComponent("hard.txt"), atomically: true, encoding: .utf8)
    let script = """
      set -e
      touch -r keep.txt "$OUTSIDE/stamp"; printf 'KEEP\\n' > keep.txt; touch -r "$OUTSIDE/stamp" keep.txt
      touch -r hard.txt "$OUTSIDE/hard.txt"; rm hard.txt; ln "$OUTSIDE/hard.txt" hard.txt; rm "$OUTSIDE/stamp"
      """
    let output = try runProcess(
      "/bin/sh", ["-c", script], in: checkout, environment: ["OUTSIDE": outsideFolder.path, "PATH": "/usr/bin:/bin"])
    #expect(output.status == 0, "\(output.stderr)")
    let outsideBefore = try treeDigest(of: outsideFolder)
    #expect(try repository.updateCheckout(ids[2], in: checkout, indexFile: index) == .incremental)
    #expect(try treeDigest(of: checkout) == (try archived(commits[2], from: path, in: directory)))
    #expect(try String(contentsOf: checkout.appendingPathComponent("keep.txt"), encoding: .utf8) == "keep\n")
    #expect(try treeDigest(of: outsideFolder) == outsideBefore)
    #expect(try String(contentsOf: outsideFolder.appendingPathComponent("hard.txt"), encoding: .utf8) == "HARD\n")
  }

  @Test("a deploy that touches or edits every one of 600 files: touched ones are kept, edited ones rewritten")
  func everyFileTouched() throws {
    let directory = try TemporaryDirectory()
    let path = directory.url.appendingPathComponent("many")
    try FileManager.default.createDirectory(at: path, withIntermediateDirectories: true)
    try git(["init", "-q", "-b", "main"], in: path)
    // 600 files: more than the index drops one entry at a time (512).
    let script = """
      for d in 0 1 2 3 4 5; do mkdir -p "d$d"; for f in $(seq 1 100); do printf '%s %s\\n' "$d" "$f" > "d$d/f$f"; done; done
      printf '%s\\n' "$VERSION" > d0/f1; [ "$VERSION" = 2 ] && rm d5/f100; true
      """
    let commits = try commitVersions(of: script, in: path)
    let repository = try Repository(at: path.path)
    let checkout = directory.url.appendingPathComponent("workspace/checkout")
    let index = directory.url.appendingPathComponent("workspace/checkout.index")
    try FileManager.default.createDirectory(
      at: checkout.deletingLastPathComponent(), withIntermediateDirectories: true)
    let ids = try commits.map { try #require(ObjectID(hex: $0)) }
    try repository.updateCheckout(ids[0], in: checkout, indexFile: index)
    func run(_ damage: String) throws {
      let output = try runProcess("/bin/sh", ["-c", damage], in: checkout, environment: ["PATH": "/usr/bin:/bin"])
      #expect(output.status == 0, "\(output.stderr)")
    }
    // (The inode and the change time of a file both commits share.)
    let shared = checkout.appendingPathComponent("d2/f2").path
    func identity() -> [Int64] {
      var status = stat()
      guard lstat(shared, &status) == 0 else { return [] }
      return [Int64(status.st_ino), Int64(status.st_ctim.tv_sec), Int64(status.st_ctim.tv_nsec)]
    }
    // Every file touched (a new ctime and mtime, the same bytes), one edited, junk added: the
    // touched files are hashed and kept, not written again.
    try run("find . -type f -exec touch {} +; printf 'edited\\n' > d3/f3; printf 'junk\\n' > d4/junk")
    let touched = identity()
    #expect(try repository.updateCheckout(ids[1], in: checkout, indexFile: index) == .incremental)
    #expect(try treeDigest(of: checkout) == (try archived(commits[1], from: path, in: directory)))
    #expect(!touched.isEmpty && identity() == touched)
    // Every file edited: all of them removed, more than the index drops one entry at a time,
    // so it is emptied and the whole tree written into the same folder.
    try run("find . -type f -exec sh -c 'for f; do printf x >> \"$f\"; done' sh {} +")
    #expect(try repository.updateCheckout(ids[0], in: checkout, indexFile: index) == .incremental)
    #expect(try treeDigest(of: checkout) == (try archived(commits[0], from: path, in: directory)))
    // And the index written after it serves the next move.
    #expect(try repository.updateCheckout(ids[1], in: checkout, indexFile: index) == .incremental)
    #expect(try treeDigest(of: checkout) == (try archived(commits[1], from: path, in: directory)))
    #expect(try repository.updateCheckout(ids[0], in: checkout, indexFile: index) == .incremental)
    #expect(try treeDigest(of: checkout) == (try archived(commits[0], from: path, in: directory)))
  }

  @Test("names that are not UTF-8 are moved, kept and rewritten by their bytes")
  func namesThatAreNotUTF8() throws {
    let directory = try TemporaryDirectory()
    let path = directory.url.appendingPathComponent("latin1")
    try FileManager.default.createDirectory(at: path, withIntermediateDirectories: true)
    try git(["init", "-q", "-b", "main"], in: path)
    // "café.txt" and "dépôt/" in Latin-1 (\351, \364): bytes no UTF-8 decoder keeps as they are.
    let script = """
      mkdir -p "$(printf 'd\\351p\\364t')"; printf 'v%s\\n' "$VERSION" > "$(printf 'caf\\351.txt')"
      printf 'same\\n' > "$(printf 'd\\351p\\364t/same.txt')"; printf 'v%s\\n' "$VERSION" > "$(printf 'd\\351p\\364t/v.txt')"
      printf 'plain\\n' > plain.txt
      """
    let commits = try commitVersions(of: script, in: path)
    let repository = try Repository(at: path.path)
    let (checkout, index) = try workspace(in: directory)
    let ids = try commits.map { try #require(ObjectID(hex: $0)) }
    // `diff -r` compares names as bytes; the digest of Foundation's enumerator would not.
    func expectExact(_ position: Int, _ label: String) throws {
      let target = directory.url.appendingPathComponent("archive-\(position)-\(UUID().uuidString)")
      try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
      let output = try runProcess(
        "/bin/sh",
        [
          "-c",
          "git -C \"$REPO\" archive \"$COMMIT\" | tar -x -f - -C \"$TARGET\" && diff -r --no-dereference \"$TARGET\" \"$CHECKOUT\"",
        ],
        environment: gitEnvironment.merging(
          ["REPO": path.path, "COMMIT": commits[position], "TARGET": target.path, "CHECKOUT": checkout.path],
          uniquingKeysWith: { $1 }))
      #expect(output.status == 0, "\(label): \(output.stdout)\(output.stderr)")
    }
    func damage(_ script: String) throws {
      let output = try runProcess("/bin/sh", ["-c", script], in: checkout, environment: ["PATH": "/usr/bin:/bin"])
      #expect(output.status == 0, "\(output.stderr)")
    }
    try repository.updateCheckout(ids[0], in: checkout, indexFile: index)
    try expectExact(0, "first checkout")
    // The unchanged Latin-1 file is kept as it is (same inode), not deleted and written again.
    func inode(_ script: String) throws -> String {
      let output = try runProcess("/bin/sh", ["-c", script], in: checkout, environment: ["PATH": "/usr/bin:/bin"])
      return output.stdout
    }
    let statSame = "stat -c %i \"$(printf 'd\\351p\\364t/same.txt')\""
    let before = try inode(statSame)
    #expect(try repository.updateCheckout(ids[1], in: checkout, indexFile: index) == .incremental)
    try expectExact(1, "moved to the second commit")
    let after = try inode(statSame)
    #expect(!before.isEmpty && after == before)
    // An edit of a Latin-1 file and junk with a Latin-1 name are put right.
    try damage("printf 'edited\\n' > \"$(printf 'caf\\351.txt')\"; printf 'junk\\n' > \"$(printf 'junk\\351')\"")
    #expect(try repository.updateCheckout(ids[0], in: checkout, indexFile: index) == .incremental)
    try expectExact(0, "back after an edit")
    try damage("rm \"$(printf 'd\\351p\\364t/v.txt')\"")
    #expect(try repository.updateCheckout(ids[1], in: checkout, indexFile: index) == .incremental)
    try expectExact(1, "forward after a deletion")
  }

  @Test("a missing, corrupt, stale or interrupted index gives the commit's exact tree")
  func untrustworthyIndexes() throws {
    let (directory, path, commits, ids, outsideFolder, repository, checkout, index) = try checkedOutHistory()
    let staleIndex = try Data(contentsOf: index)

    func expectExact(_ position: Int, _ label: String) throws {
      let expected = try archived(commits[position], from: path, in: directory)
      #expect(try treeDigest(of: checkout) == expected, "\(label)")
    }

    // Corrupt: garbage where the index was.
    try damage(checkout, outside: outsideFolder)
    try Data("DIRC but not really an index".utf8).write(to: index)
    let corrupt = try repository.updateCheckout(ids[2], in: checkout, indexFile: index)
    #expect(corrupt != .incremental)
    try expectExact(2, "corrupt index")

    // Stale: a valid index of an earlier checkout, whose recorded files are long gone.
    try damage(checkout, outside: outsideFolder)
    try staleIndex.write(to: index)
    try repository.updateCheckout(ids[1], in: checkout, indexFile: index)
    try expectExact(1, "stale index")

    // Truncated: cut half-way, as a full disk might leave it.
    try damage(checkout, outside: outsideFolder)
    let whole = try Data(contentsOf: index)
    try whole.prefix(whole.count / 2).write(to: index)
    #expect(try repository.updateCheckout(ids[3], in: checkout, indexFile: index) != .incremental)
    try expectExact(3, "truncated index")

    // Interrupted: a move killed half-way leaves the index under its moving name and the
    // folder half-written; the next move must not trust either.
    try damage(checkout, outside: outsideFolder)
    try FileManager.default.moveItem(
      at: index, to: index.deletingLastPathComponent().appendingPathComponent("checkout.index.moving"))
    #expect(try repository.updateCheckout(ids[0], in: checkout, indexFile: index) != .incremental)
    try expectExact(0, "interrupted move")
    #expect(
      !FileManager.default.fileExists(
        atPath: index.deletingLastPathComponent().appendingPathComponent("checkout.index.moving").path))

    // The checkout folder itself replaced by a link out of the workspace: the link goes,
    // what it points at stays.
    let outsideBefore = try treeDigest(of: outsideFolder)
    try FileManager.default.removeItem(at: checkout)
    try FileManager.default.createSymbolicLink(at: checkout, withDestinationURL: outsideFolder)
    #expect(try repository.updateCheckout(ids[2], in: checkout, indexFile: index) != .incremental)
    try expectExact(2, "checkout folder replaced by a link")
    #expect(try treeDigest(of: outsideFolder) == outsideBefore)

    // And after all that, moves are incremental again.
    #expect(try repository.updateCheckout(ids[1], in: checkout, indexFile: index) == .incremental)
    try expectExact(1, "incremental again")
  }

  @Test("a move interrupted half-way (index aside, some files already moved on) is followed by the exact tree")
  func interruptedMidway() throws {
    let directory = try TemporaryDirectory()
    // Some folders of files, part of which the interrupted move had already written.
    let path = directory.url.appendingPathComponent("big")
    try FileManager.default.createDirectory(at: path, withIntermediateDirectories: true)
    try git(["init", "-q", "-b", "main"], in: path)
    let script = """
      for d in 0 1 2 3 4 5; do mkdir -p "d$d"; for f in $(seq 1 40); do
      printf '%s %s %0500d\\n' "$d" "$f" "$VERSION" > "d$d/f$f"; done; done
      """
    var commits = [String]()
    for version in 1...2 {
      let output = try runProcess(
        "/bin/sh", ["-c", script], in: path,
        environment: ["VERSION": String(version), "PATH": "/usr/bin:/bin"])
      #expect(output.status == 0, "\(output.stderr)")
      try git(["add", "-A"], in: path)
      try git(["commit", "-q", "-m", "version \(version)"], in: path)
      commits.append(lines(try git(["rev-parse", "HEAD"], in: path))[0])
    }
    let repository = try Repository(at: path.path)
    let checkout = directory.url.appendingPathComponent("workspace/checkout")
    let index = directory.url.appendingPathComponent("workspace/checkout.index")
    try FileManager.default.createDirectory(
      at: checkout.deletingLastPathComponent(), withIntermediateDirectories: true)
    let first = try #require(ObjectID(hex: commits[0]))
    let second = try #require(ObjectID(hex: commits[1]))
    try repository.updateCheckout(first, in: checkout, indexFile: index)

    // Stand-in for a tool killed mid-move: the index taken aside (the move's first act) and
    // part of the folder already moved on, by git itself, into the next commit's files.
    try FileManager.default.moveItem(at: index, to: URL(fileURLWithPath: index.path + ".moving"))
    let partial = try runProcess(
      "/bin/sh",
      ["-c", "git -C \"$REPO\" archive \"$COMMIT\" d0 d1 d2 | tar -x -f - -C \"$TARGET\""],
      environment: gitEnvironment.merging(
        ["REPO": path.path, "COMMIT": commits[1], "TARGET": checkout.path], uniquingKeysWith: { $1 }))
    #expect(partial.status == 0)
    let move = try repository.updateCheckout(first, in: checkout, indexFile: index)
    #expect(move != .incremental)
    #expect(try treeDigest(of: checkout) == (try archived(commits[0], from: path, in: directory)))
    #expect(try repository.updateCheckout(second, in: checkout, indexFile: index) == .incremental)
    #expect(try treeDigest(of: checkout) == (try archived(commits[1], from: path, in: directory)))
  }
}

/// The moves of a real hunt on a tree of many files: a first full checkout, then moves 150
/// commits forward, back, to the same commit, and after a deploy touched every file, each
/// incremental and each giving the exact tree. Runs in every test run on a tree of 2,000 files
/// that make-history.py writes in about 2 s. With BISECT_DEPLOY_CHECKOUT_BENCH set to a big
/// repository's path (docs/git-layer.md says how it was made) the same moves run on it too and
/// print their timings: speed is measured there, never asserted.
@Suite struct IncrementalCheckoutTimings {
  static let repository = ProcessInfo.processInfo.environment["BISECT_DEPLOY_CHECKOUT_BENCH"]

  func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
  }

  @Test(
    "on a tree of 2,000 files, moves 150 commits apart after a full first checkout are incremental and exact",
    .timeLimit(.minutes(5)))
  func movesOnATreeOfManyFiles() throws {
    let directory = try TemporaryDirectory("checkout-moves")
    let path = directory.url.appendingPathComponent("repo")
    let made = try runProcess(
      "/usr/bin/env",
      [
        "python3", fixturesDirectory.appendingPathComponent("make-history.py").path, path.path, "--commits", "300",
        "--merge-ratio", "0", "--tree-files", "2000",
      ], environment: gitEnvironment)
    try #require(made.status == 0, "make-history.py: \(made.stderr)")
    _ = try moveAndCompare(repository: path.path, in: directory)
  }

  @Test(
    "timings of those moves on the repository BISECT_DEPLOY_CHECKOUT_BENCH names (a benchmark: skipped unless it is set)",
    .enabled(if: repository != nil))
  func fullAgainstIncremental() throws {
    let directory = try TemporaryDirectory("checkout-timings")
    let times = try moveAndCompare(repository: try #require(Self.repository), in: directory)
    print(
      String(
        format: "checkout timings: export %.3f s, first updateCheckout (full) %.3f s, "
          + "150 commits forward %.3f s, back %.3f s, same commit %.3f s, every file touched %.3f s", times[0],
        times[1], times[2], times[3], times[4], times[5]))
  }

  /// Exports `main~200` and checks out `main~200` in a new folder, then moves it to `main~50`,
  /// back, to the same commit, and again after touching every file; checks every move and the
  /// tree. Returns the six durations in that order.
  func moveAndCompare(repository path: String, in directory: TemporaryDirectory) throws -> [Double] {
    let repository = try Repository(at: path)
    let old = try repository.resolve("main~200")
    let new = try repository.resolve("main~50")
    let export = try seconds { try repository.export(old, to: directory.url.appendingPathComponent("export")) }
    let checkout = directory.url.appendingPathComponent("checkout")
    let index = directory.url.appendingPathComponent("checkout.index")
    var first = CheckoutMove.incremental
    let full = try seconds { first = try repository.updateCheckout(old, in: checkout, indexFile: index) }
    #expect(first != .incremental)
    var moves = [CheckoutMove]()
    let forward = try seconds { moves.append(try repository.updateCheckout(new, in: checkout, indexFile: index)) }
    let back = try seconds { moves.append(try repository.updateCheckout(old, in: checkout, indexFile: index)) }
    let again = try seconds { moves.append(try repository.updateCheckout(old, in: checkout, indexFile: index)) }
    // The worst a deploy can do short of deleting the folder: touch every file (every file
    // is then written again).
    let touch = try runProcess(
      "/bin/sh", ["-c", "find . -type f -exec touch {} +"], in: checkout, environment: ["PATH": "/usr/bin:/bin"])
    #expect(touch.status == 0)
    let touched = try seconds { moves.append(try repository.updateCheckout(old, in: checkout, indexFile: index)) }
    #expect(moves == [.incremental, .incremental, .incremental, .incremental])
    #expect(try treeDigest(of: checkout) == (try treeDigest(of: directory.url.appendingPathComponent("export"))))
    return [export, full, forward, back, again, touched]
  }
}

/// A checkout killed with SIGKILL while it moves: a child process (this test binary again,
/// running `moveUntilKilled`) moves one folder back and forth between two commits until it is
/// killed at a random moment; the next move, here, must give the exact tree.
@Suite struct KilledCheckoutTests {
  /// "repository|commit|commit|folder|index" for the child; unset in a normal run.
  static let child = ProcessInfo.processInfo.environment["BISECT_DEPLOY_CHECKOUT_CHILD"]

  @Test("the child: moves between two commits until killed", .enabled(if: child != nil))
  func moveUntilKilled() throws {
    let parts = try #require(Self.child).split(separator: "|").map(String.init)
    try #require(parts.count == 5)
    let repository = try Repository(at: parts[0])
    let commits = try [parts[1], parts[2]].map { try #require(ObjectID(hex: $0)) }
    let folder = URL(fileURLWithPath: parts[3])
    let index = URL(fileURLWithPath: parts[4])
    // Tells the parent the moves are about to start (the binary took its time to load).
    try Data().write(to: URL(fileURLWithPath: parts[4] + ".started"))
    for round in 0..<400 {
      try repository.updateCheckout(commits[round % 2], in: folder, indexFile: index)
    }
  }

  /// The seed of the kill moments, named by every failure (the moves' own timing still varies).
  @Test(
    "a move killed with SIGKILL at random moments is followed by the commit's exact tree", .enabled(if: child == nil),
    arguments: [UInt64(507)])
  func killedAtRandomMoments(seed: UInt64) throws {
    let directory = try TemporaryDirectory()
    let path = directory.url.appendingPathComponent("repo")
    try FileManager.default.createDirectory(at: path, withIntermediateDirectories: true)
    try git(["init", "-q", "-b", "main"], in: path)
    // Two commits that differ in every file, and in a file that becomes a folder.
    let script = """
      for d in 0 1 2 3 4; do mkdir -p "d$d"; for f in $(seq 1 60); do
      printf '%s %s %0300d\\n' "$d" "$f" "$VERSION" > "d$d/f$f"; done; done
      if [ "$VERSION" = 1 ]; then printf 'file\\n' > turn; else rm -f turn; mkdir turn; printf 'x\\n' > turn/x; fi
      """
    let commits = try commitVersions(of: script, in: path)
    let repository = try Repository(at: path.path)
    let folder = directory.url.appendingPathComponent("workspace/checkout")
    let index = directory.url.appendingPathComponent("workspace/index")
    try FileManager.default.createDirectory(at: folder.deletingLastPathComponent(), withIntermediateDirectories: true)
    let expected = try commits.map { commit -> [String: String] in
      let target = directory.url.appendingPathComponent("expected-\(commit)")
      try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
      let output = try runProcess(
        "/bin/sh", ["-c", "git -C \"$REPO\" archive \"$COMMIT\" | tar -x --no-same-permissions -f - -C \"$TARGET\""],
        environment: gitEnvironment.merging(
          ["REPO": path.path, "COMMIT": commit, "TARGET": target.path], uniquingKeysWith: { $1 }))
      #expect(output.status == 0, "\(output.stderr)")
      return try treeDigest(of: target)
    }
    var generator = SplitMix64(seed: seed)
    var midMove = 0
    for round in 0..<6 {
      let started = URL(fileURLWithPath: index.path + ".started")
      try? FileManager.default.removeItem(at: started)
      let child = Process()
      child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
      child.arguments = ["--testing-library", "swift-testing", "--filter", "KilledCheckoutTests/moveUntilKilled"]
      var environment = ProcessInfo.processInfo.environment
      environment["BISECT_DEPLOY_CHECKOUT_CHILD"] = [path.path, commits[0], commits[1], folder.path, index.path]
        .joined(separator: "|")
      child.environment = environment
      child.standardOutput = FileHandle.nullDevice
      child.standardError = FileHandle.nullDevice
      try child.run()
      let deadline = Date().addingTimeInterval(60)
      while !FileManager.default.fileExists(atPath: started.path) && child.isRunning && Date() < deadline {
        Thread.sleep(forTimeInterval: 0.01)
      }
      let childStarted = FileManager.default.fileExists(atPath: started.path)
      if !childStarted {
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
      }
      try #require(childStarted, "seed \(seed), round \(round): the child never started")
      Thread.sleep(forTimeInterval: Double.random(in: 0.05...0.6, using: &generator))
      let killedRunning = child.isRunning
      kill(child.processIdentifier, SIGKILL)
      child.waitUntilExit()
      #expect(killedRunning, "seed \(seed), round \(round): the child ended before it was killed")
      // The move under way leaves its index aside; a kill between moves leaves it in place.
      if FileManager.default.fileExists(atPath: index.path + ".moving") { midMove += 1 }
      let target = round % 2
      try repository.updateCheckout(try #require(ObjectID(hex: commits[target])), in: folder, indexFile: index)
      #expect(try treeDigest(of: folder) == expected[target], "seed \(seed), round \(round)")
    }
    // Moves take nearly all the child's time: some kill must have landed inside one.
    #expect(midMove > 0, "seed \(seed): no kill landed inside a move")
  }
}

/// Commits what `script` makes in `path` with `VERSION` set to 1, then 2: the two commits.
private func commitVersions(of script: String, in path: URL) throws -> [String] {
  var commits = [String]()
  for version in 1...2 {
    let output = try runProcess(
      "/bin/sh", ["-c", script], in: path, environment: ["VERSION": String(version), "PATH": "/usr/bin:/bin"])
    #expect(output.status == 0, "\(output.stderr)")
    try git(["add", "-A"], in: path)
    try git(["commit", "-q", "-m", "version \(version)"], in: path)
    commits.append(lines(try git(["rev-parse", "HEAD"], in: path))[0])
  }
  return commits
}
