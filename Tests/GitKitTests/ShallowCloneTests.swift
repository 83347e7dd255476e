import Foundation
import GitKit
import History
import TestSupport
import Testing

/// Shallow clones: where git answers, we answer the same (a boundary commit has no parents);
/// where the answer needs history that was not fetched, we say so.
@Suite struct ShallowCloneTests {
  /// A linear history of `commits` commits made with git, every commit dated alike (as
  /// `gitEnvironment` fixes the dates), each changing one of three files; and a
  /// `git clone --depth depth` of it. Returns the clone.
  func linearClone(commits: Int, depth: Int, in directory: TemporaryDirectory) throws -> URL {
    let source = directory.url.appendingPathComponent("linear")
    try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
    try git(["init", "-q", "-b", "main"], in: source)
    let script = """
      set -e
      for i in $(seq 1 \(commits)); do
        echo "$i" > "f$((i % 3))"
        git add -A
        git commit -q -m "c$i"
      done
      """
    let made = try runProcess("/bin/sh", ["-c", script], in: source, environment: gitEnvironment)
    guard made.status == 0 else { throw FixtureError(description: "linear history: \(made.stderr)") }
    let clone = directory.url.appendingPathComponent("shallow")
    try git(["clone", "-q", "--depth", String(depth), "file://" + source.path, clone.path], in: directory.url)
    return clone
  }

  /// The commits a shallow clone was cut at: those of `.git/shallow` that have parents (git
  /// may list a root commit there too; nothing is missing below it).
  func boundaries(of clone: URL) throws -> Set<String> {
    let listed = lines(try String(contentsOf: clone.appendingPathComponent(".git/shallow"), encoding: .utf8))
    return Set(try listed.filter { try git(["cat-file", "commit", $0], in: clone).contains("\nparent ") })
  }

  func gitIsAncestor(_ ancestor: String, _ descendant: String, in path: URL) throws -> Bool {
    let output = try runProcess(
      "/usr/bin/env", ["git", "merge-base", "--is-ancestor", ancestor, descendant], in: path,
      environment: gitEnvironment)
    guard output.status <= 1 else { throw FixtureError(description: "merge-base --is-ancestor: \(output.stderr)") }
    return output.status == 0
  }

  @Test("a linear clone: ranges inside the fetched part, ancestry and commit facts answer as git does")
  func linearInsideTheClone() throws {
    let directory = try TemporaryDirectory()
    let clone = try linearClone(commits: 30, depth: 10, in: directory)
    let repository = try Repository(at: clone.path)
    #expect(repository.isShallow)
    let head = try repository.resolve("HEAD")
    let boundary = try repository.resolve("HEAD~9")
    #expect(try boundaries(of: clone) == [boundary.hex])

    for good in ["HEAD~8", "HEAD~9", "HEAD~3"] {
      let goodID = try repository.resolve(good)
      let graph = try repository.commitGraph(bad: head, goods: [goodID])
      #expect(graph.ids.map(\.hex) == lines(try git(["rev-list", "HEAD", "^" + good], in: clone)), "\(good)")
      let limited = try repository.commitGraph(bad: head, goods: [goodID], paths: ["f1"])
      #expect(
        limited.candidateIDs.map(\.hex) == lines(try git(["rev-list", "HEAD", "^" + good, "--", "f1"], in: clone)))
      #expect(try repository.isAncestor(goodID, of: head))
      #expect(try !repository.isAncestor(head, of: goodID))
      #expect(try repository.mergeBases(goodID, head) == [goodID])
      #expect(try repository.mergeBasesToCheck(bad: head, goods: [goodID]) == [])
    }
    #expect(try repository.isAncestor(boundary, of: head))
    let line = try repository.commitGraph(bad: head, goods: [boundary]).ids
    #expect(try repository.firstContaining(boundary, along: line) == line.last)

    // The boundary commit has no parents, as git shows it, and changes every file it has.
    let facts = try repository.commit(boundary)
    #expect(facts.parents.isEmpty)
    #expect(lines(try git(["log", "-1", "--format=%P", boundary.hex], in: clone)).isEmpty)
    let changed = try repository.changedFiles(of: boundary).map { "\($0.kind == .added ? "A" : "?")\t\($0.path)" }
    #expect(
      changed == lines(try git(["diff-tree", "--root", "-r", "--no-commit-id", "--name-status", "HEAD~9"], in: clone)))

    // The same date as the boundary's is still inside; an older one is beyond it.
    #expect(try repository.firstParentCommit(from: head, atOrBefore: facts.committer.time) == head)
    #expect(throws: GitError.shallowHistory(repository: clone.path, boundary: boundary.hex)) {
      try repository.firstParentCommit(from: head, atOrBefore: facts.committer.time - 1)
    }
  }

  @Test("a linear clone: a range that runs into the boundary is refused, a good never fetched cannot be named")
  func linearBeyondTheClone() throws {
    let directory = try TemporaryDirectory()
    let clone = try linearClone(commits: 30, depth: 10, in: directory)
    let repository = try Repository(at: clone.path)
    let head = try repository.resolve("HEAD")
    let boundary = try repository.resolve("HEAD~9")
    // No good closes the range off: git would stop at the boundary, the real history does not.
    #expect(throws: GitError.shallowHistory(repository: clone.path, boundary: boundary.hex)) {
      try repository.commitGraph(bad: head, goods: [])
    }
    #expect(throws: GitError.shallowHistory(repository: clone.path, boundary: boundary.hex)) {
      try repository.commitGraph(bad: head, goods: [], paths: ["f0"], firstParent: true)
    }
    // HEAD~10 was never fetched: git does not know it either.
    let gitSays = try runProcess(
      "/usr/bin/env", ["git", "rev-parse", "--verify", "-q", "HEAD~10"], in: clone, environment: gitEnvironment)
    #expect(gitSays.status != 0)
    let error = #expect(throws: GitError.self) { try repository.resolve("HEAD~10") }
    guard case .invalidRevision("HEAD~10", let reason) = error else {
      Issue.record("expected invalidRevision, got \(String(describing: error))")
      return
    }
    #expect(reason.contains("shallow clone"))
    // Named by its id (known from the source), it is beyond the boundary for every question.
    let source = directory.url.appendingPathComponent("linear")
    let unfetched = try #require(ObjectID(hex: lines(try git(["rev-parse", "HEAD~12"], in: source))[0]))
    #expect(throws: GitError.self) { try repository.resolve(unfetched.hex) }
    let beyond = GitError.shallowHistory(repository: clone.path, boundary: unfetched.hex)
    #expect(throws: beyond) { try repository.commitGraph(bad: head, goods: [unfetched]) }
    #expect(throws: beyond) { try repository.isAncestor(unfetched, of: head) }
    #expect(throws: beyond) { try repository.mergeBases(unfetched, head) }
  }

  /// Histories with merges, cloned 4 to 10 deep; seeds 1-4 with `--no-single-branch`.
  static let seeds = Array(1...8)

  @Test("a clone of merges: ranges inside equal git rev-list, ranges across are refused", arguments: seeds)
  func mergesMatchGit(seed: Int) throws {
    let directory = try TemporaryDirectory()
    let source = try makeHistory(
      HistoryShape(commits: 120 + seed * 10, seed: 100 + seed, mergeRatio: 0.25), in: directory.url)
    let clone = directory.url.appendingPathComponent("shallow")
    let depth = 4 + (seed % 4) * 2
    try git(
      ["clone", "-q", "--depth", String(depth)] + (seed <= 4 ? ["--no-single-branch"] : [])
        + ["file://" + source.path, clone.path], in: directory.url)
    let repository = try Repository(at: clone.path)
    let cut = try boundaries(of: clone)
    let fetched = lines(try git(["rev-list", "--all"], in: clone))
    var random = SplitMix64(seed: UInt64(seed))
    var inside = 0
    var across = 0

    for trial in 0..<16 {
      let bad = trial == 0 ? "main" : fetched[Int.random(in: 0..<fetched.count, using: &random)]
      var goods = (0..<(1 + trial % 2)).map { _ in fetched[Int.random(in: 0..<fetched.count, using: &random)] }
      // Half the ranges end a few first parents down, so that many stay inside the clone.
      let near = try runProcess(
        "/usr/bin/env", ["git", "rev-parse", "--verify", "-q", "\(bad)~\(1 + trial % 3)"], in: clone,
        environment: gitEnvironment)
      if trial % 2 == 0 && near.status == 0 { goods[0] = lines(near.stdout)[0] }
      let paths = trial % 3 == 2 ? RangeOracleTests.paths[trial % RangeOracleTests.paths.count] : []
      let badID = try repository.resolve(bad)
      let goodIDs = try goods.map { try repository.resolve($0) }
      let negated = goods.map { "^" + $0 }
      let label = "seed \(seed) trial \(trial): \(bad) ^\(goods) -- \(paths)"

      for firstParent in [false, true] {
        let options = firstParent ? ["--first-parent"] : []
        let expected = lines(try git(["rev-list"] + options + [bad] + negated + ["--"] + paths, in: clone))
        // Every commit git's walk takes, those unchanged for the paths included: if one is a
        // boundary commit, the answer depends on its missing parents.
        let walked = lines(try git(["rev-list", "--sparse"] + options + [bad] + negated + ["--"] + paths, in: clone))
        if let boundary = walked.first(where: cut.contains) {
          across += 1
          let error = #expect(throws: GitError.self, "\(label) first-parent \(firstParent)") {
            try repository.commitGraph(bad: badID, goods: goodIDs, paths: paths, firstParent: firstParent)
          }
          guard case .shallowHistory(clone.path, let named) = error else {
            Issue.record("\(label): expected shallowHistory at \(boundary), got \(String(describing: error))")
            continue
          }
          #expect(cut.contains(named) && walked.contains(named), "\(label)")
        } else {
          inside += 1
          let graph = try repository.commitGraph(bad: badID, goods: goodIDs, paths: paths, firstParent: firstParent)
          #expect(graph.candidateIDs.map(\.hex).sorted() == expected.sorted(), "\(label) first-parent \(firstParent)")
        }
      }

      for good in goods {
        let goodID = try repository.resolve(good)
        #expect(
          try repository.isAncestor(goodID, of: badID) == gitIsAncestor(good, bad, in: clone), "\(label) \(good)")
        #expect(
          try repository.isAncestor(badID, of: goodID) == gitIsAncestor(bad, good, in: clone), "\(label) \(good)")
        let bases = try runProcess(
          "/usr/bin/env", ["git", "merge-base", "--all", good, bad], in: clone, environment: gitEnvironment)
        #expect(try repository.mergeBases(goodID, badID).map(\.hex) == lines(bases.stdout).sorted(), "\(label)")
      }
    }
    #expect(inside > 0 && across > 0, "seed \(seed): \(inside) ranges inside the clone, \(across) across")
  }
}
