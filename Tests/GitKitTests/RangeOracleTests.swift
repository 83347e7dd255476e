import Foundation
import GitKit
import History
import TestSupport
import Testing

/// A small deterministic generator, so that each seed picks the same ends every run.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// The ranges of our walk must be exactly git's own, on histories with merges.
@Suite struct RangeOracleTests {
  static let paths = [["config"], ["hub/spawner.py"], ["docs", "deploy"], ["user-image/"], ["config/dev.yaml"]]

  /// 36 seeded histories: 6 linear, 30 with merges.
  static let seeds = Array(1...36)

  @Test("range, first-parent range and path-limited range equal git rev-list", arguments: seeds)
  func rangeMatchesGit(seed: Int) throws {
    let directory = try TemporaryDirectory()
    let commits = 40 + (seed * 37) % 260
    let mergeRatio = seed <= 6 ? 0.0 : 0.15 + Double(seed % 4) * 0.05
    let path = try makeHistory(HistoryShape(commits: commits, seed: seed, mergeRatio: mergeRatio), in: directory.url)
    let repository = try Repository(at: path.path)
    let all = lines(try git(["rev-list", "--all"], in: path))
    var random = SplitMix64(seed: UInt64(seed))

    for trial in 0..<6 {
      let bad = trial == 0 ? "main" : all[Int.random(in: 0..<all.count, using: &random)]
      let goodCount = 1 + trial % 3
      let goods = (0..<goodCount).map { _ in all[Int.random(in: 0..<all.count, using: &random)] }
      let paths = trial % 2 == 1 ? Self.paths[Int.random(in: 0..<Self.paths.count, using: &random)] : []
      let badID = try repository.resolve(bad)
      let goodIDs = try goods.map { try repository.resolve($0) }
      let negated = goods.map { "^" + $0 }

      let graph = try repository.commitGraph(bad: badID, goods: goodIDs, paths: paths)
      let expected = lines(try git(["rev-list", bad] + negated + ["--"] + paths, in: path))
      #expect(
        graph.candidateIDs.map(\.hex).sorted() == expected.sorted(),
        "seed \(seed) trial \(trial): \(bad) ^\(goods) -- \(paths)")

      // The count alone, walked without building the graph: git's count, the same ancestry.
      let counted = try repository.rangeCount(bad: badID, goods: goodIDs, paths: paths)
      #expect(counted.count == expected.count, "count, seed \(seed) trial \(trial)")
      #expect(counted.boundaryAncestry == graph.boundaryAncestry, "seed \(seed) trial \(trial)")

      let firstParent = try repository.commitGraph(bad: badID, goods: goodIDs, paths: paths, firstParent: true)
      let expectedFirst = lines(try git(["rev-list", "--first-parent", bad] + negated + ["--"] + paths, in: path))
      #expect(
        firstParent.candidateIDs.map(\.hex).sorted() == expectedFirst.sorted(),
        "first-parent, seed \(seed) trial \(trial): \(bad) ^\(goods) -- \(paths)")

      // What the walks learned of the goods' ancestry is git's answer; with one good, no
      // paths and every parent followed, it is always decided.
      for (name, walked) in [("range", graph), ("first-parent range", firstParent)] {
        for (good, known) in walked.boundaryAncestry {
          let answer = try runProcess(
            "/usr/bin/env", ["git", "merge-base", "--is-ancestor", good.hex, bad], in: path,
            environment: gitEnvironment)
          #expect(known == (answer.status == 0), "\(name), seed \(seed) trial \(trial): \(good.hex) of \(bad)")
        }
      }
      if paths.isEmpty && Set(goodIDs).count == 1 {
        #expect(graph.boundaryAncestry[goodIDs[0]] != nil, "seed \(seed) trial \(trial): one good left undecided")
      }

      if paths.isEmpty {
        // Without paths every commit of the range is in the graph, with git's parent edges.
        let withParents = lines(try git(["rev-list", "--parents", bad] + negated, in: path))
        for line in withParents {
          let fields = line.split(separator: " ").map(String.init)
          guard let id = ObjectID(hex: fields[0]), let number = graph.number(of: id) else {
            Issue.record("missing \(fields[0])")
            continue
          }
          let inRange = fields.dropFirst().compactMap { ObjectID(hex: $0) }.filter { graph.number(of: $0) != nil }
          #expect(graph.parents(of: number).map { graph.ids[$0] } == inRange)
          #expect(graph.parentCount(of: number) == fields.count - 1)
        }
        // The first-parent graph is the chain of the full graph.
        #expect(firstParent.ids == graph.firstParentChain().ids)
      }
    }
  }

  @Test("isAncestor and mergeBases equal git merge-base --is-ancestor and --all", arguments: Array(1...12))
  func ancestryMatchesGit(seed: Int) throws {
    let directory = try TemporaryDirectory()
    let path = try makeHistory(
      HistoryShape(commits: 60 + seed * 20, seed: 200 + seed, mergeRatio: 0.1 + Double(seed % 4) * 0.1),
      in: directory.url)
    let repository = try Repository(at: path.path)
    let all = lines(try git(["rev-list", "--all"], in: path))
    var random = SplitMix64(seed: UInt64(seed))
    for trial in 0..<20 {
      let one = all[Int.random(in: 0..<all.count, using: &random)]
      let two = trial % 4 == 0 ? "main" : all[Int.random(in: 0..<all.count, using: &random)]
      let oneID = try repository.resolve(one)
      let twoID = try repository.resolve(two)
      let isAncestor = try runProcess(
        "/usr/bin/env", ["git", "merge-base", "--is-ancestor", one, two], in: path, environment: gitEnvironment)
      #expect(try repository.isAncestor(oneID, of: twoID) == (isAncestor.status == 0), "seed \(seed): \(one) \(two)")
      let bases = try runProcess(
        "/usr/bin/env", ["git", "merge-base", "--all", one, two], in: path, environment: gitEnvironment)
      #expect(
        try repository.mergeBases(oneID, twoID).map(\.hex) == lines(bases.stdout).sorted(),
        "seed \(seed): \(one) \(two)")
    }
  }

  @Test("commits are numbered children first, the tip first")
  func topologicalOrder() throws {
    let directory = try TemporaryDirectory()
    let path = try makeHistory(HistoryShape(commits: 200, seed: 99, mergeRatio: 0.3), in: directory.url)
    let repository = try Repository(at: path.path)
    let root = lines(try git(["rev-list", "--max-parents=0", "main"], in: path))[0]
    let graph = try repository.commitGraph(
      bad: try repository.resolve("main"), goods: [try repository.resolve(root)])
    #expect(graph.ids.first == graph.tip)
    for number in 0..<graph.count {
      for parent in graph.parents(of: number) { #expect(parent > number) }
    }
  }

  @Test("bad equal to good, or an ancestor of good, gives an empty range")
  func emptyRanges() throws {
    let directory = try TemporaryDirectory()
    let path = try makeHistory(HistoryShape(commits: 30, seed: 5), in: directory.url)
    let repository = try Repository(at: path.path)
    let main = try repository.resolve("main")
    let older = try repository.resolve("main~3")
    #expect(try repository.commitGraph(bad: main, goods: [main]).count == 0)
    #expect(try repository.commitGraph(bad: older, goods: [main]).count == 0)
  }
}
