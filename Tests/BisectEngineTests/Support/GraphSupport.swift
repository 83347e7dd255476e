import BisectEngine
import Foundation
import History
import TestSupport

/// A reproducible pseudo-random generator (SplitMix64), so every test run draws the same.
struct SeededGenerator: RandomNumberGenerator {
  private var state: UInt64

  init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var value = state
    value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
    value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
    return value ^ (value >> 31)
  }
}

/// A made-up id for hand-written graphs: `n` as 40 hex digits.
func commitID(_ n: Int) -> ObjectID {
  let digits = String(n, radix: 16)
  return ObjectID(hex: String(repeating: "0", count: 40 - digits.count) + digits)!
}

/// A hand-written history: commit `i` has the parents listed at `parents[i]` (indexes of
/// older commits). Ids are `commitID(i)`; every commit gets its own time, by default in index
/// order so the graph's numbering is the reverse of the indexes (`skewingDates` moves some).
struct Sketch {
  var parents: [[Int]]
  var tip: Int
  /// Commits that are not part of the range (the good side) with all their ancestors.
  var goods: [Int] = []
  /// Commits that may be blamed; nil for all.
  var candidates: [Int]?
  /// Committer times by index; nil for `1000 + i`, every parent older than its children.
  var times: [Int64]?

  /// The committer time of commit `index`.
  func time(of index: Int) -> Int64 { times?[index] ?? Int64(1000 + index) }

  /// How many parent edges run against the dates: a parent newer than its child.
  var parentsNewerThanChildren: Int {
    parents.indices.reduce(0) { sum, child in sum + parents[child].filter { time(of: $0) > time(of: child) }.count }
  }

  /// The same history with a share of its commits dated up to `span` commits' worth of time
  /// (a minute each) before or after their place, so that some parents are newer than their
  /// children, as rebases, cherry-picks and clock skew leave them. The draws come from a
  /// generator of their own, so the history itself is the one `random` made. No two commits
  /// share a time: with ties, git's order and ours would differ only by how ties are broken.
  func skewingDates(share: Double, span: Int = 90, seed: UInt64) -> Sketch {
    var random = SeededGenerator(seed: seed)
    var used = Set<Int64>()
    var times = [Int64]()
    for index in parents.indices {
      // 2017-03-01T00:00:00Z plus a minute per commit, as Fixtures/make-history.py dates them.
      var time = Int64(1_488_326_400 + 60 * index)
      if index > 0, Double.random(in: 0..<1, using: &random) < share {
        time += Int64(60 * Int.random(in: -span...span, using: &random) + Int.random(in: 1...59, using: &random))
      }
      while !used.insert(time).inserted { time += 1 }
      times.append(time)
    }
    var skewed = self
    skewed.times = times
    return skewed
  }

  /// The graph of `tip` minus the ancestors of `goods`, as a loader would build it.
  var graph: CommitGraph {
    var excluded = Set<Int>()
    var stack = goods
    while let current = stack.popLast() {
      if excluded.insert(current).inserted { stack.append(contentsOf: parents[current]) }
    }
    var included = Set<Int>()
    stack = [tip]
    while let current = stack.popLast() {
      guard !excluded.contains(current), included.insert(current).inserted else { continue }
      stack.append(contentsOf: parents[current])
    }
    let commits = included.sorted().map { index in
      CommitGraph.Commit(
        id: commitID(index), parents: parents[index].map(commitID), commitTime: time(of: index))
    }
    return CommitGraph(
      tip: commitID(tip), boundaries: goods.map(commitID), commits: commits,
      candidates: candidates.map { Set($0.map(commitID)) })
  }

  /// A linear history of `count` commits, 0 the root.
  static func linear(_ count: Int) -> Sketch {
    Sketch(parents: (0..<count).map { $0 == 0 ? [] : [$0 - 1] }, tip: count - 1)
  }

  /// A random history of `count` commits: a main line with topic branches merged back,
  /// some forked off older commits, some merging main in.
  static func random(_ count: Int, mergeChance: Double, using random: inout SeededGenerator) -> Sketch {
    var parents = [[Int]]()
    var mainTip = 0
    var topics = [Int]()
    parents.append([])
    for index in 1..<count {
      let roll = Double.random(in: 0..<1, using: &random)
      if roll < mergeChance, !topics.isEmpty {
        let topic = topics.remove(at: Int.random(in: 0..<topics.count, using: &random))
        parents.append([mainTip, topic])
        mainTip = index
      } else if roll < mergeChance + 0.35 {
        // A topic commit: continue a topic or start one from a recent main-line commit.
        if !topics.isEmpty, Bool.random(using: &random) {
          let slot = Int.random(in: 0..<topics.count, using: &random)
          let sync = Double.random(in: 0..<1, using: &random) < 0.1
          parents.append(sync ? [topics[slot], mainTip] : [topics[slot]])
          topics[slot] = index
        } else {
          let base = max(0, mainTip - Int.random(in: 0..<4, using: &random))
          parents.append([base])
          topics.append(index)
        }
      } else {
        parents.append([mainTip])
        mainTip = index
      }
    }
    return Sketch(parents: parents, tip: mainTip)
  }
}

/// Writes `sketch` into a new repository at `directory` with `git fast-import`: commit `i`
/// has the subject "commit i", author and committer time `sketch.time(of: i)`, and sets the
/// file `sketch.txt` to `i`; `main` points at the tip and tag `good-j` at `sketch.goods[j]`.
/// Returns the repository's commit ids by index.
func writeRepository(_ sketch: Sketch, at directory: URL) throws -> [ObjectID] {
  try git(["init", "-q", "-b", "main", directory.path], in: directory.deletingLastPathComponent())
  var stream = ""
  for index in sketch.parents.indices {
    let message = "commit \(index)\n"
    let content = "\(index)\n"
    let identity = "Sketch <sketch@example.com> \(sketch.time(of: index)) +0000"
    // A root after the first: main is emptied, or its tip would become the parent.
    if sketch.parents[index].isEmpty && index > 0 { stream += "reset refs/heads/main\n\n" }
    stream += "commit refs/heads/main\nmark :\(index + 1)\nauthor \(identity)\ncommitter \(identity)\n"
    stream += "data \(message.utf8.count)\n\(message)"
    // `from` names the first parent even when main points elsewhere.
    if let first = sketch.parents[index].first {
      stream += "from :\(first + 1)\n"
      for other in sketch.parents[index].dropFirst() { stream += "merge :\(other + 1)\n" }
    }
    stream += "M 100644 inline sketch.txt\ndata \(content.utf8.count)\n\(content)\n"
  }
  stream += "reset refs/heads/main\nfrom :\(sketch.tip + 1)\n\n"
  for (number, good) in sketch.goods.enumerated() { stream += "reset refs/tags/good-\(number)\nfrom :\(good + 1)\n\n" }
  let marks = directory.appendingPathComponent(".git/sketch-marks")
  try git(["fast-import", "--quiet", "--export-marks=\(marks.path)"], in: directory, input: stream)
  var ids = [ObjectID?](repeating: nil, count: sketch.parents.count)
  for line in lines(try String(contentsOf: marks, encoding: .utf8)) {
    let fields = line.split(separator: " ")
    guard fields.count == 2, let mark = Int(fields[0].dropFirst()), let id = ObjectID(hex: fields[1]) else { continue }
    ids[mark - 1] = id
  }
  try FileManager.default.removeItem(at: marks)
  return try ids.enumerated().map { index, id in
    guard let id else { throw OracleError(description: "fast-import wrote no commit \(index)") }
    return id
  }
}

/// Ancestry in a graph, answered by plain walks: the reference the engine is checked against.
struct Ancestry {
  let graph: CommitGraph

  func ancestors(of number: Int) -> Set<Int> {
    var seen: Set<Int> = [number]
    var stack = [number]
    while let current = stack.popLast() {
      for parent in graph.parents(of: current) where seen.insert(parent).inserted {
        stack.append(parent)
      }
    }
    return seen
  }

  func isAncestor(_ ancestor: ObjectID, of commit: ObjectID) -> Bool {
    guard let a = graph.number(of: ancestor), let c = graph.number(of: commit) else { return false }
    return ancestors(of: c).contains(a)
  }
}

/// What driving a bisection to its end gave.
struct Run {
  var conclusion: Conclusion
  var tested: [ObjectID]
  var rounds: Int
  var tests: Int { tested.count }
}

/// Asks `bisection` for rounds of `width` commits and answers them with `verdict` until it
/// concludes (or gives up after `limit` rounds, concluding `.noCandidate`).
func drive(
  _ bisection: inout Bisection, width: Int = 1, limit: Int = 10_000,
  verdict: (ObjectID) -> Verdict
) -> Run {
  var tested = [ObjectID]()
  var rounds = 0
  while rounds < limit {
    switch bisection.nextRound(count: width) {
    case .concluded(let conclusion):
      return Run(conclusion: conclusion, tested: tested, rounds: rounds)
    case .test(let commits):
      rounds += 1
      for commit in commits {
        tested.append(commit)
        bisection.record(verdict(commit), for: commit)
      }
    }
  }
  return Run(conclusion: .noCandidate, tested: tested, rounds: rounds)
}

/// The predicate of every oracle run: bad iff `culprit` is an ancestor-or-self.
func culpritPredicate(_ culprit: ObjectID, in graph: CommitGraph, skipping: Set<ObjectID> = [])
  -> (ObjectID) -> Verdict
{
  guard let culpritNumber = graph.number(of: culprit) else { return { _ in .good } }
  // Descendants of the culprit: children have smaller numbers than their parents.
  var bad = Set<Int>([culpritNumber])
  for number in stride(from: culpritNumber - 1, through: 0, by: -1)
  where graph.parents(of: number).contains(where: bad.contains) {
    bad.insert(number)
  }
  return { commit in
    if skipping.contains(commit) { return .skip }
    guard let number = graph.number(of: commit) else { return .good }
    return bad.contains(number) ? .bad : .good
  }
}

/// Loads the range `bad --not goods` from a real repository with `git rev-list`, as the
/// libgit2 loader would: ids, parents and committer times, and with paths, the commits that
/// `git rev-list -- <paths>` shows as candidates.
func loadGraph(
  repository: URL, bad: String, goods: [String], paths: [String] = [], firstParent: Bool = false
) throws -> CommitGraph {
  let tip = try resolve(bad, in: repository)
  let boundaries = try goods.map { try resolve($0, in: repository) }
  var arguments = ["rev-list", "--parents", "--timestamp"]
  if firstParent { arguments.append("--first-parent") }
  arguments += [tip.hex, "--not"] + boundaries.map(\.hex)
  var commits = [CommitGraph.Commit]()
  for line in lines(try git(arguments, in: repository)) {
    let fields = line.split(separator: " ")
    let parents = fields.dropFirst(2).compactMap { ObjectID(hex: $0) }
    commits.append(
      CommitGraph.Commit(
        id: ObjectID(hex: fields[1])!, parents: firstParent ? Array(parents.prefix(1)) : parents,
        commitTime: Int64(fields[0])!))
  }
  var candidates: Set<ObjectID>?
  if !paths.isEmpty {
    var listing = ["rev-list"]
    if firstParent { listing.append("--first-parent") }
    listing += [tip.hex, "--not"] + boundaries.map(\.hex) + ["--"] + paths
    candidates = Set(lines(try git(listing, in: repository)).compactMap { ObjectID(hex: $0) })
  }
  return CommitGraph(
    tip: tip, boundaries: boundaries, commits: commits, candidates: candidates, paths: paths,
    isFirstParent: firstParent)
}

/// The commit a revision names.
func resolve(_ revision: String, in repository: URL) throws -> ObjectID {
  let text = try git(["rev-parse", "--verify", "\(revision)^{commit}"], in: repository)
  guard let id = ObjectID(hex: text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
    throw OracleError(description: "cannot resolve \(revision)")
  }
  return id
}

/// A failure while asking git for the oracle's side of a comparison.
struct OracleError: Error, CustomStringConvertible {
  var description: String
}
