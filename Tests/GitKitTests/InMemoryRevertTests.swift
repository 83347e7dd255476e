import Foundation
import GitKit
import History
import TestSupport
import Testing

/// `Repository.revert`, references and branches, with git as the oracle.
@Suite struct InMemoryRevertTests {
  /// start → change a.txt (the commit to revert) → add b.txt → change a.txt's same line again.
  struct Fixture {
    let directory: TemporaryDirectory
    let path: URL
    let reverted: String
    let clean: String
    let conflicting: String

    init() throws {
      directory = try TemporaryDirectory()
      path = directory.url.appendingPathComponent("repo")
      try FileManager.default.createDirectory(at: path, withIntermediateDirectories: true)
      let path = self.path
      func commit(_ file: String, _ text: String, _ message: String) throws -> String {
        try text.write(to: path.appendingPathComponent(file), atomically: true, encoding: .utf8)
        try TestSupport.git(["add", "-A"], in: path)
        try TestSupport.git(["commit", "-q", "-m", message], in: path)
        return try TestSupport.git(["rev-parse", "HEAD"], in: path).trimmingCharacters(in: .whitespacesAndNewlines)
      }
      try TestSupport.git(["init", "-q", "-b", "main"], in: path)
      _ = try commit("a.txt", "top\nvalue=1\nend\n", "start")
      reverted = try commit("a.txt", "top\nvalue=2\nend\n", "set value 2")
      clean = try commit("b.txt", "b\n", "add b")
      conflicting = try commit("a.txt", "top\nvalue=3\nend\n", "set value 3")
    }

    @discardableResult
    func git(_ arguments: [String]) throws -> String {
      try TestSupport.git(arguments, in: path).trimmingCharacters(in: .whitespacesAndNewlines)
    }
  }

  @Test(
    "a clean revert is git's: the same tree, one parent, the tool's identity, the same commit every time; nothing else moves"
  )
  func cleanRevert() throws {
    let fixture = try Fixture()
    let head = try Data(contentsOf: fixture.path.appendingPathComponent(".git/HEAD"))
    let index = try Data(contentsOf: fixture.path.appendingPathComponent(".git/index"))
    let status = try fixture.git(["status", "--porcelain"])
    let repository = try Repository(at: fixture.path.path)
    let base = try #require(ObjectID(hex: fixture.clean))
    let culprit = try #require(ObjectID(hex: fixture.reverted))
    guard case .commit(let made) = try repository.revert(culprit, onto: base, message: "Revert it\n") else {
      Issue.record("the revert conflicted")
      return
    }
    #expect(try repository.revert(culprit, onto: base, message: "Revert it\n") == .commit(made))
    // Only objects were written: HEAD, the index and the work tree are as they were.
    #expect(try Data(contentsOf: fixture.path.appendingPathComponent(".git/HEAD")) == head)
    #expect(try Data(contentsOf: fixture.path.appendingPathComponent(".git/index")) == index)
    #expect(try fixture.git(["status", "--porcelain"]) == status)
    #expect(try fixture.git(["rev-parse", "\(made.hex)^@"]) == fixture.clean)
    #expect(
      try fixture.git(["show", "-s", "--format=%an <%ae>|%cn <%ce>|%B", made.hex])
        == "bisect-deploy <bisect-deploy@localhost>|bisect-deploy <bisect-deploy@localhost>|Revert it")
    // git's own revert, in the repository's work tree, gives the same tree.
    try fixture.git(["checkout", "-q", "--detach", fixture.clean])
    try fixture.git(["revert", "--no-edit", fixture.reverted])
    #expect(try fixture.git(["rev-parse", "HEAD^{tree}"]) == (try fixture.git(["rev-parse", "\(made.hex)^{tree}"])))
  }

  @Test("a revert that conflicts names git's conflicted files and makes no commit")
  func conflictingRevert() throws {
    let fixture = try Fixture()
    let repository = try Repository(at: fixture.path.path)
    let result = try repository.revert(
      try #require(ObjectID(hex: fixture.reverted)), onto: try #require(ObjectID(hex: fixture.conflicting)),
      message: "Revert it\n")
    #expect(result == .conflicts(["a.txt"]))
    let oracle = try runProcess(
      "/usr/bin/env", ["git", "revert", "--no-edit", fixture.reverted], in: fixture.path, environment: gitEnvironment)
    #expect(oracle.status != 0)
    #expect(try fixture.git(["diff", "--name-only", "--diff-filter=U"]) == "a.txt")
  }

  @Test("references are set and read; a branch is made once, never moved, and a bad name is refused by name")
  func referencesAndBranches() throws {
    let fixture = try Fixture()
    let repository = try Repository(at: fixture.path.path)
    let id = try #require(ObjectID(hex: fixture.clean))
    #expect(try repository.reference("refs/bisect-deploy/revert/1") == nil)
    try repository.setReference("refs/bisect-deploy/revert/1", to: id)
    #expect(try repository.reference("refs/bisect-deploy/revert/1") == id)
    #expect(try fixture.git(["rev-parse", "refs/bisect-deploy/revert/1"]) == fixture.clean)
    try repository.createBranch("fix", at: id)
    #expect(try fixture.git(["rev-parse", "refs/heads/fix"]) == fixture.clean)
    #expect(throws: GitError.branchExists("fix")) {
      try repository.createBranch("fix", at: try #require(ObjectID(hex: fixture.reverted)))
    }
    #expect(try fixture.git(["rev-parse", "refs/heads/fix"]) == fixture.clean)
    #expect(throws: GitError.invalidBranchName("a..b")) { try repository.createBranch("a..b", at: id) }
    #expect(try fixture.git(["symbolic-ref", "HEAD"]) == "refs/heads/main")
  }
}
