import Foundation
import TestSupport
import Testing

/// A small history built with git commands (fixed identity and dates) whose smoke test looks
/// at the files, so that reverting a commit really changes the verdict:
///
///     v0 ─ c1 ─ C ─ c3 ─ c4                      pass:     reverting C fixes it
///                         ├─ b.txt BREAKS          still:    a later commit breaks it too
///                         └─ a.txt BREAKS again    conflict: the revert of C conflicts in a.txt
///     c1 ─ m1 ─ M ─ m3 (M merges topic: t1 g.txt BREAKS, t2)   merged: a merge culprit
///
/// C sets `x=BREAKS` in a.txt. The test fails when any file says BREAKS.
struct RevertBench {
  let directory: TemporaryDirectory
  let repo: URL
  let markers: URL
  /// The culprit C of pass, still and conflict.
  let culprit: String
  /// The merge M of `merged`.
  let merge: String

  /// Bad when a file of the checkout says BREAKS.
  static let test = "grep -rq BREAKS . && exit 1; exit 0"
  /// Records each deploy as "<commit> <phase>".
  static let deploy = "echo \"$BISECT_COMMIT $BISECT_PHASE\" >> \"$MARKERS/deploys\""

  init() throws {
    directory = try TemporaryDirectory("bisect-deploy-revert")
    repo = directory.url.appendingPathComponent("repo")
    markers = directory.url.appendingPathComponent("markers")
    try FileManager.default.createDirectory(at: repo, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(at: markers, withIntermediateDirectories: true)
    let repo = self.repo
    func write(_ name: String, _ text: String) throws {
      try text.write(to: repo.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }
    func commit(_ message: String) throws -> String {
      try git(["add", "-A"], in: repo)
      try git(["commit", "-q", "-m", message], in: repo)
      return try git(["rev-parse", "HEAD"], in: repo).trimmingCharacters(in: .whitespacesAndNewlines)
    }
    try git(["init", "-q", "-b", "main"], in: repo)
    try write("a.txt", "header\nx=1\nfooter\n")
    try write("b.txt", "y=1\n")
    try write("c.txt", "z=1\n")
    _ = try commit("start")
    try git(["tag", "v0"], in: repo)
    try write("d.txt", "one\n")
    _ = try commit("add d")
    try git(["branch", "topic-base"], in: repo)
    try write("a.txt", "header\nx=BREAKS\nfooter\n")
    culprit = try commit("raise the kernel memory limit (#12)\n\nThe notebook kernels need more.")
    try write("e.txt", "e\n")
    _ = try commit("add e")
    try write("f.txt", "f\n")
    _ = try commit("add f")
    try git(["branch", "pass"], in: repo)
    try git(["checkout", "-q", "-b", "still"], in: repo)
    try write("b.txt", "y=BREAKS\n")
    _ = try commit("tune the culler")
    try git(["checkout", "-q", "-b", "conflict", "pass"], in: repo)
    try write("a.txt", "header\nx=BREAKS again\nfooter\n")
    _ = try commit("reword the limit")
    // The merge culprit: a topic that breaks it, merged with --no-ff.
    try git(["checkout", "-q", "-b", "topic", "topic-base"], in: repo)
    try write("g.txt", "g=BREAKS\n")
    _ = try commit("topic: new spawner option")
    try write("h.txt", "h\n")
    _ = try commit("topic: document it")
    try git(["checkout", "-q", "-b", "merged", "topic-base"], in: repo)
    try write("i.txt", "i\n")
    _ = try commit("add i")
    try git(["merge", "-q", "--no-ff", "-m", "Merge pull request #34 from team/topic", "topic"], in: repo)
    merge = try git(["rev-parse", "HEAD"], in: repo).trimmingCharacters(in: .whitespacesAndNewlines)
    try write("j.txt", "j\n")
    _ = try commit("add j")
    try git(["checkout", "-q", "main"], in: repo)
  }

  var environment: [String: String] {
    var environment = gitEnvironment
    environment["MARKERS"] = markers.path
    return environment
  }

  func rev(_ revision: String) throws -> String {
    try git(["rev-parse", revision], in: repo).trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// A hunt from v0 to `bad` with the file-looking test.
  func hunt(bad: String, _ arguments: [String], environment extra: [String: String] = [:]) throws -> ProcessOutput {
    try bisectDeploy(
      ["--repo", repo.path, "--good", "v0", "--bad", bad, "--deploy", Self.deploy, "--test", Self.test] + arguments,
      environment: environment.merging(extra) { _, new in new })
  }

  /// The deploys recorded, as (commit, phase).
  func deploys() -> [(commit: String, phase: String)] {
    let text = (try? String(contentsOf: markers.appendingPathComponent("deploys"), encoding: .utf8)) ?? ""
    return lines(text).map { line in
      let words = line.split(separator: " ").map(String.init)
      return (words[0], words.count > 1 ? words[1] : "")
    }
  }

  /// The last JSON object of a `--json` run (the result).
  static func result(_ output: ProcessOutput) throws -> [String: Any] {
    let last = try #require(lines(output.stdout).last, "no output: \(output.stderr)")
    return try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
  }

  /// What git itself makes of reverting `commit` on `base` (`-m 1` for a merge), in a
  /// scratch clone: the tree, or the conflicted files.
  func gitRevert(_ commit: String, on base: String, merge: Bool = false) throws -> (tree: String?, conflicts: [String])
  {
    let scratch = directory.url.appendingPathComponent("oracle-\(UUID().uuidString)")
    try git(["clone", "-q", "--no-checkout", repo.path, scratch.path], in: directory.url)
    try git(["checkout", "-q", "--detach", base], in: scratch)
    let arguments = ["revert", "--no-edit"] + (merge ? ["-m", "1"] : []) + [commit]
    let reverted = try runProcess("/usr/bin/env", ["git"] + arguments, in: scratch, environment: gitEnvironment)
    if reverted.status == 0 {
      return (try git(["rev-parse", "HEAD^{tree}"], in: scratch).trimmingCharacters(in: .whitespacesAndNewlines), [])
    }
    return (nil, lines(try git(["diff", "--name-only", "--diff-filter=U"], in: scratch)))
  }

  /// The bytes of HEAD, the index and every work-tree file (not under .git), by path.
  func snapshot() throws -> [String: Data] {
    var files = [String: Data]()
    let git = repo.appendingPathComponent(".git")
    files[".git/HEAD"] = try Data(contentsOf: git.appendingPathComponent("HEAD"))
    files[".git/index"] = try Data(contentsOf: git.appendingPathComponent("index"))
    let enumerator = FileManager.default.enumerator(at: repo, includingPropertiesForKeys: [.isRegularFileKey])
    while let url = enumerator?.nextObject() as? URL {
      let relative = String(url.standardizedFileURL.path.dropFirst(repo.standardizedFileURL.path.count + 1))
      if relative == ".git" || relative.hasPrefix(".git/") {
        enumerator?.skipDescendants()
        continue
      }
      if (try url.resourceValues(forKeys: [.isRegularFileKey])).isRegularFile == true {
        files[relative] = try Data(contentsOf: url)
      }
    }
    return files
  }
}
