import BisectEngine
import History
import Testing

@Suite struct BisectionTests {
  @Test func firstTestOnALinearRangeHalvesIt() {
    let graph = Sketch.linear(16).graph
    let bisection = Bisection(graph: graph)
    #expect(bisection.remainingCount == 16)
    #expect(bisection.next() == .test(commitID(7)))
    #expect(bisection.reach(of: commitID(7)) == 8)
  }

  @Test(arguments: [1, 2, 3, 7, 8, 9, 40, 100])
  func everyCulpritOfALinearRangeIsFoundInLog2Tests(count: Int) {
    let graph = Sketch.linear(count).graph
    let bound = ceilingLog(count, base: 2)
    for culprit in 0..<count {
      var bisection = Bisection(graph: graph)
      let run = drive(&bisection, verdict: culpritPredicate(commitID(culprit), in: graph))
      #expect(run.conclusion == .culprit(commitID(culprit)))
      #expect(run.tests <= bound, "culprit \(culprit): \(run.tests) tests")
      #expect(Set(run.tested).count == run.tests, "a commit was tested twice")
    }
  }

  @Test func theTipIsACandidateAndTheGoodsAreNot() {
    let graph = Sketch(parents: Sketch.linear(6).parents, tip: 5, goods: [2]).graph
    #expect(Bisection(graph: graph).possibleCulprits == [commitID(5), commitID(4), commitID(3)])
    var bisection = Bisection(graph: graph)
    let run = drive(&bisection, verdict: culpritPredicate(commitID(5), in: graph))
    #expect(run.conclusion == .culprit(commitID(5)))
  }

  @Test func skippedCommitsAroundTheCulpritGiveTheHonestSet() {
    let graph = Sketch.linear(20).graph
    let skipped = Set([8, 9, 10].map(commitID))
    for culprit in [8, 9, 10, 11] {
      var bisection = Bisection(graph: graph)
      let run = drive(
        &bisection, verdict: culpritPredicate(commitID(culprit), in: graph, skipping: skipped))
      #expect(run.conclusion == .culpritAmong([11, 10, 9, 8].map(commitID)), "culprit \(culprit)")
    }
    var bisection = Bisection(graph: graph)
    let run = drive(&bisection, verdict: culpritPredicate(commitID(12), in: graph, skipping: skipped))
    #expect(run.conclusion == .culprit(commitID(12)))
  }

  @Test func aSkippedCommitIsNeverChosenAgain() {
    let graph = Sketch.linear(32).graph
    var bisection = Bisection(graph: graph)
    var skipped = Set<ObjectID>()
    for _ in 0..<10 {
      guard case .test(let commit) = bisection.next() else { break }
      #expect(!skipped.contains(commit))
      skipped.insert(commit)
      bisection.record(.skip, for: commit)
    }
    #expect(skipped.count == 10)
  }

  @Test func replayingTheVerdictsGivesTheSameSteps() {
    var random = SeededGenerator(seed: 11)
    let graph = Sketch.random(120, mergeChance: 0.25, using: &random).graph
    let culprit = graph.ids[graph.count / 3]
    var first = Bisection(graph: graph)
    let run = drive(&first, verdict: culpritPredicate(culprit, in: graph, skipping: [graph.ids[40]]))
    var replay = Bisection(graph: graph)
    for (offset, recorded) in first.verdicts.enumerated() {
      #expect(replay.next() == .test(run.tested[offset]))
      replay.record(recorded.verdict, for: recorded.commit)
    }
    #expect(replay.next() == .concluded(run.conclusion))
    #expect(replay.verdicts == first.verdicts)
  }

  // MARK: Contradictions

  @Test func badEqualToGoodIsAnEmptyRange() {
    let graph = Sketch(parents: Sketch.linear(6).parents, tip: 4, goods: [4]).graph
    #expect(Bisection(graph: graph).next() == .concluded(.emptyRange))
  }

  @Test func badAncestorOfGoodIsAnEmptyRange() {
    let graph = Sketch(parents: Sketch.linear(6).parents, tip: 2, goods: [4]).graph
    #expect(Bisection(graph: graph).next() == .concluded(.emptyRange))
    #expect(Bisection(graph: graph).nextRound(count: 3) == .concluded(.emptyRange))
  }

  @Test func theTipFoundGoodContradicts() {
    let graph = Sketch.linear(8).graph
    var bisection = Bisection(graph: graph)
    bisection.record(.good, for: commitID(7))
    #expect(bisection.next() == .concluded(.badFoundGood(commitID(7))))
    #expect(bisection.next().isContradiction)
  }

  @Test func aGoodBoundaryFoundBadContradicts() {
    let graph = Sketch(parents: Sketch.linear(10).parents, tip: 9, goods: [3]).graph
    var bisection = Bisection(graph: graph)
    bisection.record(.good, for: commitID(3))
    #expect(bisection.next() == .test(commitID(6)))
    bisection.record(.bad, for: commitID(3))
    #expect(bisection.next() == .concluded(.goodFoundBad(commitID(3))))
    // Frozen: later verdicts are logged but change nothing.
    bisection.record(.good, for: commitID(6))
    #expect(bisection.next() == .concluded(.goodFoundBad(commitID(3))))
    #expect(bisection.verdicts.count == 3)
  }

  @Test func anAncestorOfAGoodCommitFoundBadContradicts() {
    let graph = Sketch.linear(12).graph
    var bisection = Bisection(graph: graph)
    bisection.record(.good, for: commitID(6))
    bisection.record(.bad, for: commitID(4))
    #expect(bisection.next() == .concluded(.goodFoundBad(commitID(4))))
  }

  @Test func aDescendantOfABadCommitFoundGoodContradicts() {
    let graph = Sketch.linear(12).graph
    var bisection = Bisection(graph: graph)
    bisection.record(.bad, for: commitID(5))
    bisection.record(.good, for: commitID(8))
    #expect(bisection.next() == .concluded(.badFoundGood(commitID(8))))
  }

  /// main: 0-1-2-3 (bad); a side branch 1-4 (good) that is not an ancestor of 3.
  static let forked = Sketch(parents: [[], [0], [1], [2], [1]], tip: 3, goods: [4])

  @Test func aMergeBaseIsTestedFirstAndBadMeansFixed() {
    var bisection = Bisection(graph: Self.forked.graph, mergeBases: [commitID(1)])
    #expect(bisection.possibleCulprits == [commitID(3), commitID(2)])
    #expect(bisection.next() == .test(commitID(1)))
    #expect(bisection.estimatedRounds() == 2)
    bisection.record(.bad, for: commitID(1))
    #expect(
      bisection.next() == .concluded(.fixedBetween(mergeBase: commitID(1), goods: [commitID(4)])))
  }

  @Test func aGoodMergeBaseLetsTheSearchGoOn() {
    let graph = Self.forked.graph
    var bisection = Bisection(graph: graph, mergeBases: [commitID(1)])
    let run = drive(&bisection, verdict: culpritPredicate(commitID(2), in: graph))
    #expect(run.tested == [commitID(1), commitID(2)])
    #expect(run.conclusion == .culprit(commitID(2)))
    #expect(bisection.uncheckedMergeBases.isEmpty)
  }

  @Test func aSkippedMergeBaseIsReportedAndTheSearchGoesOn() {
    let graph = Self.forked.graph
    var bisection = Bisection(graph: graph, mergeBases: [commitID(1), commitID(4)])
    #expect(bisection.mergeBases == [commitID(1)], "a merge base equal to a good is dropped")
    let run = drive(
      &bisection, verdict: culpritPredicate(commitID(3), in: graph, skipping: [commitID(1)]))
    #expect(run.conclusion == .culprit(commitID(3)))
    #expect(bisection.uncheckedMergeBases == [commitID(1)])
  }

  // MARK: Path limits

  /// 0..9 linear, only 2, 5 and 7 change the paths; the tip (9) does not.
  static let pathLimited = Sketch(
    parents: Sketch.linear(10).parents, tip: 9, goods: [0], candidates: [2, 5, 7])

  @Test func pathLimitsBlameOnlyCommitsThatChangeThePaths() {
    let graph = Self.pathLimited.graph
    for culprit in [2, 5, 7] {
      var bisection = Bisection(graph: graph)
      #expect(bisection.remainingCount == 3)
      let run = drive(&bisection, verdict: culpritPredicate(commitID(culprit), in: graph))
      #expect(run.conclusion == .culprit(commitID(culprit)))
      #expect(run.tested.allSatisfy { [2, 5, 7].map(commitID).contains($0) })
    }
  }

  @Test func aCulpritOutsideThePathsMeansNoCandidate() {
    let graph = Self.pathLimited.graph
    var bisection = Bisection(graph: graph)
    let run = drive(&bisection, verdict: culpritPredicate(commitID(8), in: graph))
    #expect(run.conclusion == .noCandidate)
    #expect(Set(run.tested) == Set([5, 7].map(commitID)), "2 is known good once 5 is")
  }

  @Test func aSkippedPathCommitNextToTheCulpritGivesTheSet() {
    let graph = Self.pathLimited.graph
    var bisection = Bisection(graph: graph)
    let run = drive(
      &bisection, verdict: culpritPredicate(commitID(5), in: graph, skipping: [commitID(5)]))
    #expect(run.conclusion == .culpritAmong([commitID(7), commitID(5)]))
  }

  @Test func theOnlyPathCommitIsTestedBeforeItIsBlamed() {
    let graph = Sketch(parents: Sketch.linear(6).parents, tip: 5, goods: [0], candidates: [3]).graph
    var bisection = Bisection(graph: graph)
    #expect(bisection.next() == .test(commitID(3)))
    bisection.record(.bad, for: commitID(3))
    #expect(bisection.next() == .concluded(.culprit(commitID(3))))
  }

  @Test func aSpareParallelSlotVerifiesTheTopOfAPathLimitedRange() {
    let graph = Self.pathLimited.graph
    var bisection = Bisection(graph: graph)
    #expect(bisection.nextRound(count: 3) == .test([2, 5, 7].map(commitID)))
    let run = drive(&bisection, width: 3, verdict: culpritPredicate(commitID(5), in: graph))
    #expect(run.conclusion == .culprit(commitID(5)))
    #expect(run.rounds == 1)
  }

  @Test func aRangeWithNoPathCommitHasNoCandidate() {
    let graph = Sketch(parents: Sketch.linear(6).parents, tip: 5, goods: [0], candidates: []).graph
    #expect(Bisection(graph: graph).next() == .concluded(.noCandidate))
  }

  // MARK: First parent

  @Test func aFirstParentSearchTestsOnlyTheMainLine() {
    // main 0-1-2-5-6 with a topic 2-3-4 merged at 5.
    let sketch = Sketch(parents: [[], [0], [1], [2], [3], [2, 4], [5]], tip: 6, goods: [0])
    let graph = sketch.graph.firstParentChain()
    var bisection = Bisection(graph: graph)
    #expect(bisection.remainingCount == 4)
    let full = sketch.graph
    let run = drive(&bisection) { commit in culpritPredicate(commitID(3), in: full)(commit) }
    #expect(run.conclusion == .culprit(commitID(5)), "the merge that brought the topic in")
    #expect(!run.tested.contains(commitID(3)) && !run.tested.contains(commitID(4)))
  }

  // MARK: Progress

  @Test func estimatedRoundsFollowLogarithms() {
    let bisection = Bisection(graph: Sketch.linear(100).graph)
    #expect(bisection.estimatedRounds() == 7)
    #expect(bisection.estimatedRounds(parallel: 2) == 5)
    #expect(bisection.estimatedRounds(parallel: 3) == 4)
  }
}

extension Outcome {
  var isContradiction: Bool {
    if case .concluded(let conclusion) = self { return conclusion.isContradiction }
    return false
  }
}

/// The smallest `r` with `base^r >= value`: `ceil(log_base(value))` in integers.
func ceilingLog(_ value: Int, base: Int) -> Int {
  var power = 1
  var steps = 0
  while power < value {
    power *= base
    steps += 1
  }
  return steps
}
