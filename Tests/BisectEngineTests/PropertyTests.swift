import BisectEngine
import History
import Testing

/// Seeded random histories checked against brute force: exact reach by plain walks, and the
/// set of culprits consistent with the verdicts.
@Suite struct PropertyTests {
  /// A random range: sometimes with goods, sometimes path-limited (the tip then may not be a
  /// candidate).
  static func randomSketch(seed: UInt64) -> Sketch {
    var random = SeededGenerator(seed: seed)
    let size = Int.random(in: 12...160, using: &random)
    var sketch = Sketch.random(size, mergeChance: Double.random(in: 0.05...0.4, using: &random), using: &random)
    if seed % 3 == 1 {
      sketch.goods = [Int.random(in: 0..<(size / 3), using: &random)]
    }
    if seed % 4 == 2 {
      sketch.candidates = (0..<size).filter { _ in Double.random(in: 0..<1, using: &random) < 0.5 }
    }
    return sketch
  }

  /// The candidates consistent with every verdict: ancestors-or-self of each bad commit, of
  /// no good one.
  static func consistentCulprits(_ bisection: Bisection) -> Set<ObjectID> {
    let graph = bisection.graph
    let ancestry = Ancestry(graph: graph)
    var possible = Set(graph.candidateIDs)
    for recorded in bisection.verdicts {
      guard let number = graph.number(of: recorded.commit), recorded.verdict != .skip else { continue }
      let ancestors = Set(ancestry.ancestors(of: number).map { graph.ids[$0] })
      if recorded.verdict == .bad {
        possible.formIntersection(ancestors)
      } else {
        possible.subtract(ancestors)
      }
    }
    return possible
  }

  /// The best `min(reach, N - reach)` over the commits that may be tested, by brute force.
  static func bestSplit(_ bisection: Bisection, untestable: Set<ObjectID>) -> Int {
    let graph = bisection.graph
    let ancestry = Ancestry(graph: graph)
    let possible = Set(bisection.possibleCulprits)
    var best = 0
    for commit in possible where !untestable.contains(commit) {
      let reach = ancestry.ancestors(of: graph.number(of: commit)!).filter {
        possible.contains(graph.ids[$0])
      }.count
      if reach < possible.count { best = max(best, min(reach, possible.count - reach)) }
    }
    return best
  }

  @Test(arguments: 1...80)
  func theChosenCommitSplitsAsWellAsBruteForce(seed: Int) {
    let graph = Self.randomSketch(seed: UInt64(seed)).graph
    var random = SeededGenerator(seed: UInt64(seed) &* 7919)
    var bisection = Bisection(graph: graph)
    let candidates = graph.candidateIDs
    guard let culprit = candidates.randomElement(using: &random) else { return }
    let verdict = culpritPredicate(culprit, in: graph)
    var untestable: Set<ObjectID> = [graph.tip]
    // A few verdicts on random commits first, so that later choices work on a reduced range.
    for round in 0..<4 {
      #expect(Set(bisection.possibleCulprits) == Self.consistentCulprits(bisection))
      guard case .test(let commit) = bisection.next() else { break }
      let reach = bisection.reach(of: commit)!
      let split = min(reach, bisection.remainingCount - reach)
      let best = Self.bestSplit(bisection, untestable: untestable)
      if best > 0 { #expect(split == best, "seed \(seed), round \(round)") }
      let probe = graph.ids.randomElement(using: &random)!
      bisection.record(verdict(probe), for: probe)
      if verdict(probe) == .bad { untestable.insert(probe) }
      if round == 1 {
        bisection.record(.skip, for: commit)
        untestable.insert(commit)
      }
    }
  }

  @Test(arguments: 1...60)
  func anyOrderOfConsistentVerdictsConvergesToTheCulprit(seed: Int) {
    let graph = Self.randomSketch(seed: UInt64(seed) + 1000).graph
    var random = SeededGenerator(seed: UInt64(seed))
    for _ in 0..<3 {
      guard let culprit = graph.candidateIDs.randomElement(using: &random) else { return }
      let verdict = culpritPredicate(culprit, in: graph)
      var bisection = Bisection(graph: graph)
      for commit in graph.ids.shuffled(using: &random) {
        bisection.record(verdict(commit), for: commit)
        #expect(bisection.possibleCulprits.contains(culprit))
        if case .concluded(let conclusion) = bisection.next() {
          #expect(conclusion == .culprit(culprit), "seed \(seed)")
        }
      }
      #expect(bisection.next() == .concluded(.culprit(culprit)), "seed \(seed)")
    }
  }

  @Test(arguments: 1...60)
  func theEngineConvergesWithSkipsToExactlyTheConsistentCulprits(seed: Int) {
    let graph = Self.randomSketch(seed: UInt64(seed) + 2000).graph
    var random = SeededGenerator(seed: UInt64(seed) + 5)
    let candidates = graph.candidateIDs
    guard let culprit = candidates.randomElement(using: &random) else { return }
    let skipped = Set(graph.ids.filter { _ in Double.random(in: 0..<1, using: &random) < 0.15 })
    var bisection = Bisection(graph: graph)
    let run = drive(&bisection, verdict: culpritPredicate(culprit, in: graph, skipping: skipped))
    #expect(Set(run.tested).count == run.tests, "seed \(seed): a commit was tested twice")
    let consistent = Self.consistentCulprits(bisection)
    switch run.conclusion {
    case .culprit(let found):
      #expect(found == culprit, "seed \(seed)")
    case .culpritAmong(let set):
      #expect(set.contains(culprit), "seed \(seed)")
      #expect(Set(set).intersection(candidates) == consistent, "seed \(seed): not the minimal set")
      // Whatever was not skipped is known bad: the lowest bad commit.
      let knownBad = Set(bisection.verdicts.filter { $0.verdict == .bad }.map(\.commit) + [graph.tip])
      #expect(consistent.subtracting(skipped).isSubset(of: knownBad), "seed \(seed)")
    default:
      Issue.record("seed \(seed): \(run.conclusion)")
    }
  }

  @Test(arguments: [2, 3, 5, 10, 17, 64, 100, 243, 1000])
  func roundsOnALinearRangeTakeTheLogarithm(count: Int) {
    let graph = Sketch.linear(count).graph
    let culprits = count <= 243 ? Array(0..<count) : Array(stride(from: 0, to: count, by: 7)) + [count - 1]
    for width in 1...4 {
      let expected = ceilingLog(count, base: width + 1)
      #expect(Bisection(graph: graph).estimatedRounds(parallel: width) == expected)
      var worst = 0
      for culprit in culprits {
        var bisection = Bisection(graph: graph)
        let run = drive(&bisection, width: width, verdict: culpritPredicate(commitID(culprit), in: graph))
        #expect(run.conclusion == .culprit(commitID(culprit)))
        worst = max(worst, run.rounds)
      }
      #expect(worst == expected, "N = \(count), \(width) at once")
    }
  }

  @Test(arguments: 1...30)
  func roundsOnMergeHeavyHistoriesFindTheCulprit(seed: Int) {
    let graph = Self.randomSketch(seed: UInt64(seed) + 3000).graph
    var random = SeededGenerator(seed: UInt64(seed) + 9)
    guard let culprit = graph.candidateIDs.randomElement(using: &random) else { return }
    let verdict = culpritPredicate(culprit, in: graph)
    let oneAtATime: Int
    do {
      var bisection = Bisection(graph: graph)
      oneAtATime = drive(&bisection, verdict: verdict).rounds
    }
    for width in 2...4 {
      var bisection = Bisection(graph: graph)
      var tested = Set<ObjectID>()
      var rounds = 0
      while case .test(let commits) = bisection.nextRound(count: width) {
        #expect(commits.count <= width && Set(commits).count == commits.count)
        #expect(tested.isDisjoint(with: commits), "seed \(seed): tested again")
        tested.formUnion(commits)
        for commit in commits { bisection.record(verdict(commit), for: commit) }
        rounds += 1
      }
      #expect(bisection.next() == .concluded(.culprit(culprit)), "seed \(seed), \(width) at once")
      #expect(rounds <= oneAtATime, "seed \(seed): \(width) at once took more rounds than one")
    }
  }
}
