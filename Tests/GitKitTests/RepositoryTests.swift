import Foundation
import GitKit
import History
import TestSupport
import Testing

/// Opening, resolving, commit facts, changed files, and every error the user can meet.
@Suite struct RepositoryTests {
  /// One generated history shared by the read-only tests of this suite.
  final class Shared: Sendable {
    let directory: TemporaryDirectory
    let path: URL
    init() throws {
      directory = try TemporaryDirectory()
      path = try makeHistory(HistoryShape(commits: 120, seed: 11, mergeRatio: 0.25), in: directory.url)
    }
  }

  static let shared = Result { try Shared() }

  func fixture() throws -> URL { try Self.shared.get().path }

  @Test("opens from the top, from a folder inside, and a bare repository")
  func opens() throws {
    let path = try fixture()
    let inside = path.appendingPathComponent("config")
    #expect(FileManager.default.fileExists(atPath: inside.path))
    let fromInside = try Repository(at: inside.path)
    #expect(
      fromInside.workTree.map { URL(fileURLWithPath: $0).standardizedFileURL.path } == path.standardizedFileURL.path)
    #expect(!fromInside.isBare)

    let directory = try TemporaryDirectory()
    let bare = try makeHistory(HistoryShape(commits: 10, seed: 3, bare: true), in: directory.url)
    let repository = try Repository(at: bare.path)
    #expect(repository.isBare)
    #expect(repository.workTree == nil)
    #expect(try repository.resolve("main").hex == lines(try git(["rev-parse", "main"], in: bare))[0])
  }

  @Test("a folder outside any repository is refused by name")
  func notARepository() throws {
    let directory = try TemporaryDirectory()
    #expect(throws: GitError.notARepository(path: directory.path)) { try Repository(at: directory.path) }
    let missing = directory.url.appendingPathComponent("no-such-folder").path
    #expect(throws: GitError.notARepository(path: missing)) { try Repository(at: missing) }
    let message = GitError.notARepository(path: directory.path).localizedDescription
    #expect(message.contains(directory.path) && message.contains("--repo"))
  }

  @Test(
    "resolves what users type as git does",
    arguments: ["main", "HEAD", "HEAD~3", "main^", "v0.1", "v0.2", "v0.1^{commit}", "unmerged", "main~2^2"])
  func resolvesLikeGit(revision: String) throws {
    let path = try fixture()
    let repository = try Repository(at: path.path)
    let expected = try runProcess(
      "/usr/bin/env", ["git", "rev-parse", "--verify", "--quiet", revision + "^{commit}"], in: path,
      environment: gitEnvironment)
    if expected.status != 0 {
      // main~2 may not be a merge in this history; then git and we both refuse.
      #expect(throws: GitError.self) { try repository.resolve(revision) }
      return
    }
    #expect(try repository.resolve(revision).hex == lines(expected.stdout)[0])
  }

  @Test("a tag on a merge resolves with ^2 to the merged branch")
  func tagSecondParent() throws {
    let path = try fixture()
    let repository = try Repository(at: path.path)
    let tagged = try repository.resolve("v0.1")
    let info = try repository.commit(tagged)
    #expect(info.parents.count == 2, "the fixture tags a merge as v0.1")
    #expect(try repository.resolve("v0.1^2") == info.parents[1])
  }

  @Test("full and unique short hashes resolve; unknown and ambiguous ones are named")
  func hashes() throws {
    let path = try fixture()
    let repository = try Repository(at: path.path)
    let full = lines(try git(["rev-parse", "main~5"], in: path))[0]
    #expect(try repository.resolve(full).hex == full)
    let short = lines(try git(["rev-parse", "--short=10", "main~5"], in: path))[0]
    #expect(try repository.resolve(short).hex == full)

    #expect(throws: GitError.unknownRevision("deadbeefdeadbeef")) { try repository.resolve("deadbeefdeadbeef") }
    #expect(throws: GitError.unknownRevision("no-such-branch")) { try repository.resolve("no-such-branch") }

    // Find a 4-digit prefix that two objects share: git itself says which.
    let objects = lines(try git(["rev-list", "--all", "--objects"], in: path)).map { String($0.prefix(40)) }
    let groups = Dictionary(grouping: objects) { String($0.prefix(4)) }
    let prefix = try #require(groups.first { $0.value.count > 1 }?.key, "120 commits give over 300 objects")
    #expect(throws: GitError.ambiguousRevision(prefix)) { try repository.resolve(prefix) }
    let message = GitError.ambiguousRevision(prefix).localizedDescription
    #expect(message.contains(prefix) && message.contains("more digits"))
  }

  @Test("a tree, a blob or bad syntax is not a commit")
  func notCommits() throws {
    let path = try fixture()
    let repository = try Repository(at: path.path)
    #expect(throws: GitError.notACommit("main^{tree}")) { try repository.resolve("main^{tree}") }
    #expect(throws: GitError.notACommit("main:docs/README.md")) { try repository.resolve("main:docs/README.md") }
    let error = #expect(throws: GitError.self) { try repository.resolve("main..v0.1") }
    guard case .invalidRevision(let revision, _) = error else {
      Issue.record("a range is not one revision: \(String(describing: error))")
      return
    }
    #expect(revision == "main..v0.1")
  }

  @Test("commit facts match git log")
  func commitFacts() throws {
    let path = try fixture()
    let repository = try Repository(at: path.path)
    for revision in ["main", "v0.1", "main~7"] {
      let info = try repository.commit(try repository.resolve(revision))
      let format = "%H%n%P%n%an%n%ae%n%at%n%ct%n%s"
      let fields = try git(["log", "-1", "--format=\(format)", revision], in: path)
        .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
      #expect(info.id.hex == fields[0])
      #expect(info.parents.map(\.hex).joined(separator: " ") == fields[1])
      #expect(info.author.name == fields[2])
      #expect(info.author.email == fields[3])
      #expect(String(info.author.time) == fields[4])
      #expect(String(info.committer.time) == fields[5])
      #expect(info.summary == fields[6])
      let body = try git(["log", "-1", "--format=%B", revision], in: path)
      #expect(
        info.message.trimmingCharacters(in: .whitespacesAndNewlines)
          == body.trimmingCharacters(in: .whitespacesAndNewlines))
    }
  }

  @Test("changed files against the first parent match git diff-tree")
  func changedFiles() throws {
    let path = try fixture()
    let repository = try Repository(at: path.path)
    let revisions =
      lines(try git(["rev-list", "--max-count=25", "main"], in: path))
      + lines(try git(["rev-list", "--max-parents=0", "main"], in: path))
    for revision in revisions {
      let changes = try repository.changedFiles(of: try repository.resolve(revision))
      // Against the first parent, as git diff shows it; a root commit against nothing.
      let isRoot =
        lines(try git(["rev-list", "--parents", "-n", "1", revision], in: path))[0]
        .split(separator: " ").count == 1
      let output =
        isRoot
        ? try git(["diff-tree", "--root", "-r", "--no-commit-id", "--name-status", revision], in: path)
        : try git(["diff", "--name-status", "--no-renames", revision + "^1", revision], in: path)
      let expected = lines(output).map { line -> String in
        let parts = line.split(separator: "\t")
        return "\(parts[0]) \(parts[1])"
      }.sorted { $0.split(separator: " ")[1] < $1.split(separator: " ")[1] }
      let ours = changes.map { change -> String in
        let letter =
          switch change.kind {
          case .added: "A"
          case .deleted: "D"
          case .modified: "M"
          case .typeChanged: "T"
          }
        return "\(letter) \(change.path)"
      }
      #expect(ours == expected, "\(revision)")
    }
  }
}
