import Foundation
import GitKit
import History
import TestSupport
import Testing

/// Clean copies of a commit, and repositories that cannot answer: shallow and damaged ones.
@Suite struct ExportAndDamageTests {
  /// A tiny repository made by hand: an executable script, a symlink, a nested folder.
  func handMadeRepository(in directory: TemporaryDirectory) throws -> URL {
    let path = directory.url.appendingPathComponent("hand")
    try FileManager.default.createDirectory(at: path, withIntermediateDirectories: true)
    try git(["init", "-q", "-b", "main"], in: path)
    try FileManager.default.createDirectory(
      at: path.appendingPathComponent("deploy/hooks"), withIntermediateDirectories: true)
    try "#!/bin/sh\necho deploy\n".write(
      to: path.appendingPathComponent("deploy/run.sh"), atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes(
      [.posixPermissions: 0o755], ofItemAtPath: path.appendingPathComponent("deploy/run.sh").path)
    try "first\n".write(to: path.appendingPathComponent("deploy/hooks/pre.txt"), atomically: true, encoding: .utf8)
    try FileManager.default.createSymbolicLink(
      atPath: path.appendingPathComponent("link").path, withDestinationPath: "deploy/run.sh")
    try git(["add", "-A"], in: path)
    try git(["commit", "-q", "-m", "first"], in: path)
    try "second\n".write(to: path.appendingPathComponent("deploy/hooks/pre.txt"), atomically: true, encoding: .utf8)
    try git(["commit", "-q", "-am", "second"], in: path)
    return path
  }

  @Test("export writes the commit's tree, modes and links included, and leaves the user's checkout alone")
  func exportsCleanCopy() throws {
    let directory = try TemporaryDirectory()
    let path = try handMadeRepository(in: directory)
    // Leave the user's work tree dirty: the export must not see or change it.
    try "local edit\n".write(to: path.appendingPathComponent("deploy/hooks/pre.txt"), atomically: true, encoding: .utf8)
    let indexBefore = try Data(contentsOf: path.appendingPathComponent(".git/index"))
    let headBefore = try git(["rev-parse", "HEAD"], in: path)
    let statusBefore = try git(["status", "--porcelain"], in: path)

    let repository = try Repository(at: path.path)
    let first = try repository.resolve("HEAD~1")
    let target = directory.url.appendingPathComponent("workspace/first")
    try repository.export(first, to: target)

    #expect(try String(contentsOf: target.appendingPathComponent("deploy/hooks/pre.txt"), encoding: .utf8) == "first\n")
    let attributes = try FileManager.default.attributesOfItem(
      atPath: target.appendingPathComponent("deploy/run.sh").path)
    #expect(((attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0) & 0o111 != 0)
    #expect(
      try FileManager.default.destinationOfSymbolicLink(atPath: target.appendingPathComponent("link").path)
        == "deploy/run.sh")
    #expect(!FileManager.default.fileExists(atPath: target.appendingPathComponent(".git").path))
    // Exactly the files git lists for that commit.
    let listed = Set(lines(try git(["ls-tree", "-r", "--name-only", "HEAD~1"], in: path)))
    let enumerator = FileManager.default.enumerator(atPath: target.path)
    var written = Set<String>()
    while let item = enumerator?.nextObject() as? String {
      var isDirectory: ObjCBool = false
      let full = target.appendingPathComponent(item).path
      if (try? FileManager.default.destinationOfSymbolicLink(atPath: full)) != nil
        || (FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory) && !isDirectory.boolValue)
      {
        written.insert(item)
      }
    }
    #expect(written == listed)

    #expect(try Data(contentsOf: path.appendingPathComponent(".git/index")) == indexBefore)
    #expect(try git(["rev-parse", "HEAD"], in: path) == headBefore)
    #expect(try git(["status", "--porcelain"], in: path) == statusBefore)
    #expect(
      try String(contentsOf: path.appendingPathComponent("deploy/hooks/pre.txt"), encoding: .utf8) == "local edit\n")
  }

  @Test("export works from a bare repository and refuses a folder that holds files")
  func exportBareAndNonEmpty() throws {
    let directory = try TemporaryDirectory()
    let bare = try makeHistory(HistoryShape(commits: 12, seed: 4, bare: true), in: directory.url)
    let repository = try Repository(at: bare.path)
    let target = directory.url.appendingPathComponent("copy")
    try repository.export(try repository.resolve("main"), to: target)
    let listed = Set(lines(try git(["ls-tree", "-r", "--name-only", "main"], in: bare)))
    for file in listed { #expect(FileManager.default.fileExists(atPath: target.appendingPathComponent(file).path)) }
    #expect(throws: GitError.exportTargetNotEmpty(path: target.standardizedFileURL.path)) {
      try repository.export(try repository.resolve("main"), to: target)
    }
  }

  @Test("a shallow clone is refused when the range needs history it lacks, and fine when not")
  func shallowClone() throws {
    let directory = try TemporaryDirectory()
    let source = try makeHistory(HistoryShape(commits: 40, seed: 8, mergeRatio: 0), in: directory.url)
    let clone = directory.url.appendingPathComponent("shallow")
    try git(
      ["clone", "-q", "--depth", "5", "--no-single-branch", "file://" + source.path, clone.path], in: directory.url)
    let repository = try Repository(at: clone.path)
    #expect(repository.isShallow)
    let main = try repository.resolve("main")
    // Inside the fetched depth: fine.
    let near = try repository.resolve("main~3")
    #expect(try repository.commitGraph(bad: main, goods: [near]).count == 3)
    // The other branch was fetched too, but their shared history was not: the walk from main
    // reaches main's boundary commit while still inside the range.
    let unmerged = try repository.resolve("origin/unmerged")
    let boundary = lines(try git(["rev-parse", "main~4"], in: clone))[0]
    #expect(throws: GitError.shallowHistory(repository: clone.path, boundary: boundary)) {
      try repository.commitGraph(bad: main, goods: [unmerged])
    }
    // A good end that was never fetched is beyond the boundary too.
    let deep = try #require(ObjectID(hex: lines(try git(["rev-list", "--max-parents=0", "main"], in: source))[0]))
    #expect(throws: GitError.shallowHistory(repository: clone.path, boundary: deep.hex)) {
      try repository.commitGraph(bad: main, goods: [deep])
    }
    let message = GitError.shallowHistory(repository: clone.path, boundary: boundary).localizedDescription
    #expect(message.contains("git fetch --unshallow"))
    // A commit older than the boundary cannot be named at all: the message says why.
    let error = #expect(throws: GitError.self) { try repository.resolve(deep.hex) }
    #expect(error?.localizedDescription.contains("shallow clone") == true)
  }

  @Test("a commit missing from the object database is reported, not skipped")
  func missingObject() throws {
    let directory = try TemporaryDirectory()
    let path = try handMadeRepository(in: directory)
    // Loose objects: delete the first commit's file.
    let first = lines(try git(["rev-parse", "HEAD~1"], in: path))[0]
    let objectFile = path.appendingPathComponent(".git/objects/\(first.prefix(2))/\(first.dropFirst(2))")
    try FileManager.default.removeItem(at: objectFile)
    let repository = try Repository(at: path.path)
    let head = try repository.resolve("HEAD")
    #expect(throws: GitError.missingObject(first)) { try repository.commitGraph(bad: head, goods: []) }
  }
}
