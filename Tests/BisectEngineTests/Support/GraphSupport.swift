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
/// older commits). Ids are `commitID(i)`; every commit gets its own time so the graph's
/// numbering is the reverse of the indexes.
struct Sketch {
  var parents: [[Int]]
  var tip: Int
  /// Commits that are not part of the range (the good side) with all their ancestors.
  var goods: [Int] = []
  /// Commits that may be blamed; nil for all.
  var candidates: [Int]?

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
        id: commitID(index), parents: parents[index].map(commitID), commitTime: Int64(1000 + index))
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
