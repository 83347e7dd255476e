import Foundation
import GitKit
import History
import TestSupport
import Testing

/// What `--descend-deps` reads from git: a commit's files and their bytes, tags, branches,
/// and a bare clone of a dependency that is fetched again. git is the oracle.
@Suite struct FilesTagsCloneTests {
  @Test("a commit's files and blobs are what git ls-tree and cat-file say; links and submodules are left out")
  func filesAndBlobs() throws {
    let directory = try TemporaryDirectory("files")
    let repo = try makeHistory(HistoryShape(commits: 30, seed: 3), in: directory.url)
    // A link and an executable, so that every kind of entry is there.
    try FileManager.default.createSymbolicLink(
      atPath: repo.appendingPathComponent("docs/link").path, withDestinationPath: "README.md")
    try git(["add", "docs/link"], in: repo)
    try git(["commit", "-q", "-m", "Add a link"], in: repo)
    let repository = try Repository(at: repo.path)
    let head = try repository.resolve("HEAD")
    let listed = lines(try git(["ls-tree", "-r", "HEAD"], in: repo)).map { $0.split(separator: "\t", maxSplits: 1) }
    let expected = listed.filter { !$0[0].hasPrefix("120000") && !$0[0].hasPrefix("160000") }.map { entry in
      let fields = entry[0].split(separator: " ")
      return "\(fields[0]) \(fields[2]) \(entry[1])"
    }
    let files = try repository.files(of: head)
    #expect(
      files.map { "\($0.isExecutable ? "100755" : "100644") \($0.blob.hex) \($0.path)" }
        == expected.sorted {
          $0.split(separator: " ")[2] < $1.split(separator: " ")[2]
        })
    #expect(!files.contains { $0.path == "docs/link" })
    for file in files.prefix(4) {
      let bytes = try repository.contents(ofBlob: file.blob)
      #expect(String(decoding: bytes, as: UTF8.self) == (try git(["cat-file", "blob", file.blob.hex], in: repo)))
    }
  }

  @Test("tags name their commits as git rev-parse TAG^{commit} does; branches are told apart")
  func tagsAndBranches() throws {
    let directory = try TemporaryDirectory("tags")
    let repo = try makeHistory(HistoryShape(commits: 40, seed: 4), in: directory.url)
    // A tag of a blob is not a commit's: left out.
    try git(["tag", "blob-tag", "HEAD:docs/README.md"], in: repo)
    let repository = try Repository(at: repo.path)
    let expected = try lines(try git(["tag"], in: repo)).filter { $0 != "blob-tag" }.map { name in
      "\(name) \(try git(["rev-parse", "\(name)^{commit}"], in: repo).trimmingCharacters(in: .whitespacesAndNewlines))"
    }
    #expect(try repository.tags().map { "\($0.name) \($0.commit.hex)" } == expected.sorted())
    #expect(try repository.isBranch("main") && repository.isBranch("unmerged"))
    #expect(try !repository.isBranch("v0.1") && !repository.isBranch("nothing"))
  }

  @Test(
    "a bare clone of a file:// URL has every branch and tag, fetches what came later, and leaves the source as it was")
  func cloneAndFetch() throws {
    let directory = try TemporaryDirectory("clone")
    let source = try makeHistory(HistoryShape(commits: 40, seed: 6), in: directory.url)
    let before = try treeDigest(of: source)
    let target = directory.url.appendingPathComponent("cache/clone.git")
    let clone = try Repository.cloneBare(from: "file://\(source.path)", into: target)
    #expect(clone.isBare)
    #expect(clone.remoteURL() == "file://\(source.path)")
    #expect(try treeDigest(of: source) == before, "the source changed")
    let tips = lines(try git(["for-each-ref", "--format=%(objectname)", "refs/heads", "refs/tags"], in: source))
    let cloned = lines(try git(["for-each-ref", "--format=%(objectname)", "refs/remotes", "refs/tags"], in: target))
    #expect(Set(tips).isSubset(of: Set(cloned)))
    // Objects are the clone's own: none is a hard link to the source's.
    let packs = try FileManager.default.subpathsOfDirectory(atPath: target.appendingPathComponent("objects").path)
    for pack in packs {
      let attributes = try FileManager.default.attributesOfItem(
        atPath: target.appendingPathComponent("objects").appendingPathComponent(pack).path)
      if attributes[.type] as? FileAttributeType == .typeRegular {
        #expect((attributes[.referenceCount] as? Int ?? 1) == 1, "\(pack) is hard-linked")
      }
    }
    try git(["commit", "-q", "--allow-empty", "-m", "Later"], in: source)
    try git(["tag", "v9.9"], in: source)
    let later = try git(["rev-parse", "HEAD"], in: source).trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(throws: GitError.self) { try clone.resolve(later) }
    try clone.fetch()
    #expect(try clone.resolve(later).hex == later)
    #expect(try clone.tags().contains { $0.name == "v9.9" })
    #expect(throws: GitError.self) {
      try Repository.cloneBare(
        from: "file://\(directory.url.path)/nothing", into: directory.url.appendingPathComponent("x"))
    }
  }

  @Test("opened without searching upward, a folder inside a repository is not that repository")
  func noSearch() throws {
    let directory = try TemporaryDirectory("nosearch")
    let repo = try makeHistory(HistoryShape(commits: 5, seed: 7), in: directory.url)
    let inside = repo.appendingPathComponent("docs").path
    #expect(try Repository(at: inside).workTree != nil)
    #expect(throws: GitError.notARepository(path: inside)) { try Repository(at: inside, searchingUpward: false) }
  }
}
