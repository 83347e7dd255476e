import BisectEngine
import Foundation
import History
import TestSupport

/// What `git bisect run` concluded for one culprit.
struct GitBisectResult: Sendable {
  /// One commit when git named the first bad commit; several when only skipped commits
  /// were left ("could be any of"); empty otherwise.
  var culprits: [ObjectID] = []
  /// Git reported that a merge base is bad ("the bug has been fixed between").
  var mergeBaseIsBad = false
  /// How many times git ran the test script.
  var tests = 0
}

/// Runs `git bisect start --no-checkout` and `git bisect run` in `repository` with the
/// predicate "bad iff `culprit` is an ancestor-or-self of BISECT_HEAD", skipping (exit 125)
/// the commits listed in `skipFile` if given. The repository must not be bisecting already.
func gitBisect(
  repository: URL, bad: String, goods: [String], culprit: ObjectID, skipFile: URL? = nil,
  paths: [String] = [], firstParent: Bool = false
) throws -> GitBisectResult {
  var start = ["bisect", "start", "--no-checkout"]
  if firstParent { start.append("--first-parent") }
  start += [bad] + goods
  if !paths.isEmpty { start += ["--"] + paths }
  defer {
    _ = try? runProcess("/usr/bin/env", ["git", "bisect", "reset"], in: repository, environment: gitEnvironment)
  }
  let started = try runProcess("/usr/bin/env", ["git"] + start, in: repository, environment: gitEnvironment)
  var result = GitBisectResult()
  let startText = started.stdout + started.stderr
  if startText.contains("The merge base") && startText.contains("is bad") {
    result.mergeBaseIsBad = true
    return result
  }
  var script = ""
  if let skipFile {
    script += "if grep -qx \"$(git rev-parse BISECT_HEAD)\" '\(skipFile.path)'; then exit 125; fi; "
  }
  script += "git merge-base --is-ancestor \(culprit.hex) BISECT_HEAD && exit 1 || exit 0"
  let run = try runProcess(
    "/usr/bin/env", ["git", "bisect", "run", "sh", "-c", script], in: repository,
    environment: gitEnvironment)
  let output = lines(run.stdout + "\n" + run.stderr)
  result.tests = output.filter { $0.hasPrefix("running ") }.count
  var listing = false
  for line in output {
    if line.hasSuffix(" is the first bad commit"), let id = ObjectID(hex: line.prefix(40)) {
      result.culprits = [id]
    } else if line.hasPrefix("The first bad commit could be any of:") {
      listing = true
    } else if listing, let id = ObjectID(hex: line) {
      result.culprits.append(id)
    } else if line.hasPrefix("The merge base"), line.hasSuffix("is bad.") {
      result.mergeBaseIsBad = true
      listing = false
    } else {
      listing = false
    }
  }
  return result
}

/// Every commit of `revisions` and their ancestors, with full parents: ancestry for commits
/// outside a bisection's range (merge bases).
func loadWholeHistory(repository: URL, revisions: [String]) throws -> CommitGraph {
  let text = try git(["rev-list", "--parents", "--timestamp"] + revisions, in: repository)
  let commits = lines(text).map { line in
    let fields = line.split(separator: " ")
    return CommitGraph.Commit(
      id: ObjectID(hex: fields[1])!, parents: fields.dropFirst(2).compactMap { ObjectID(hex: $0) },
      commitTime: Int64(fields[0])!)
  }
  return CommitGraph(tip: commits[0].id, boundaries: [], commits: commits)
}

/// At most `limit` elements spread evenly over `all`, first and last included.
func spread<T>(_ all: [T], limit: Int) -> [T] {
  guard all.count > limit, limit > 1 else { return all }
  return (0..<limit).map { all[$0 * (all.count - 1) / (limit - 1)] }
}

/// What git's bisection does for one culprit, read off its decision tree.
struct GitPath: Sendable {
  /// The commit git names as the first bad commit.
  var culprit: ObjectID
  /// How many commits git tests before naming it.
  var tests: Int
}

/// Git's whole decision tree over `bad --not goods` (with `options` such as `--first-parent`
/// and `paths`), explored with `git rev-list --bisect`, the choice `git bisect` makes at each
/// step: for each of `culprits`, the commit git names and the tests it takes. Costs about two
/// `git rev-list` runs per culprit, far less than a `git bisect run` per culprit.
///
/// - Parameter verdict: the predicate for a culprit: bad iff the culprit is an ancestor-or-self.
func gitDecisionTree(
  repository: URL, bad: ObjectID, goods: [ObjectID], options: [String] = [], paths: [String] = [],
  culprits: [ObjectID], verdict: (ObjectID, ObjectID) -> Verdict
) throws -> [ObjectID: GitPath] {
  var found = [ObjectID: GitPath]()
  func explore(bad: ObjectID, goods: [ObjectID], depth: Int, culprits: [ObjectID]) throws {
    guard !culprits.isEmpty else { return }
    var arguments = ["rev-list", "--bisect"] + options + [bad.hex, "--not"] + goods.map(\.hex)
    if !paths.isEmpty { arguments += ["--"] + paths }
    let chosen = lines(try git(arguments, in: repository)).first.flatMap { ObjectID(hex: $0) }
    guard let chosen, chosen != bad else {
      for culprit in culprits { found[culprit] = GitPath(culprit: bad, tests: depth) }
      return
    }
    let badSide = culprits.filter { verdict($0, chosen) == .bad }
    let goodSide = culprits.filter { verdict($0, chosen) != .bad }
    try explore(bad: chosen, goods: goods, depth: depth + 1, culprits: badSide)
    try explore(bad: bad, goods: goods + [chosen], depth: depth + 1, culprits: goodSide)
  }
  try explore(bad: bad, goods: goods, depth: 0, culprits: culprits)
  return found
}
