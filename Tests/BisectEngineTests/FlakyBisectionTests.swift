import BisectEngine
import Foundation
import History
import TestSupport
import Testing

/// Asks `search` for one commit at a time and answers with `verdict` until it concludes.
private func drive(_ search: inout FlakyBisection, verdict: (ObjectID) -> Verdict) -> (
  conclusion: FlakyConclusion, tested: [ObjectID]
) {
  var tested = [ObjectID]()
  while true {
    switch search.next() {
    case .test(let commit):
      tested.append(commit)
      search.record(verdict(commit), for: commit)
    case .concluded(let conclusion):
      return (conclusion, tested)
    }
  }
}

/// A smoke test that says bad on a truly good commit with probability `falseBad`, and good on a
/// truly bad one with probability `falseGood`, drawn from a seeded generator.
private final class NoisyTest {
  let truth: (ObjectID) -> Verdict
  let falseBad: Double
  let falseGood: Double
  var random: SeededGenerator

  init(culprit: ObjectID, in graph: CommitGraph, falseBad: Double, falseGood: Double = 0, seed: UInt64) {
    truth = culpritPredicate(culprit, in: graph)
    self.falseBad = falseBad
    self.falseGood = falseGood
    random = SeededGenerator(seed: seed)
  }

  func answer(_ commit: ObjectID) -> Verdict {
    let roll = Double.random(in: 0..<1, using: &random)
    switch truth(commit) {
    case .bad: return roll < falseGood ? .good : .bad
    default: return roll < falseBad ? .bad : .good
    }
  }
}

/// Settings that trust every answer: rates 0, floored to 0.001 by the engine.
private let noNoise = FlakySettings(rates: NoiseRates(falseBad: 0, falseGood: 0))

@Suite struct FlakyBisectionTests {
  // MARK: Without noise it is plain bisection

  @Test func theFirstChoiceOnALinearRangeIsBisectionsMidpoint() {
    for count in [2, 5, 16, 17, 100] {
      let graph = Sketch.linear(count).graph
      guard case .test(let plain) = Bisection(graph: graph).next(),
        case .test(let flaky) = FlakyBisection(graph: graph, settings: noNoise).next()
      else {
        Issue.record("N = \(count): nothing to test")
        continue
      }
      let reach = Bisection(graph: graph).reach(of: plain)!
      let flakyReach = Bisection(graph: graph).reach(of: flaky)!
      #expect(min(flakyReach, count - flakyReach) == min(reach, count - reach), "N = \(count)")
    }
    #expect(FlakyBisection(graph: Sketch.linear(16).graph, settings: noNoise).next() == .test(commitID(7)))
  }

  @Test(arguments: [1, 2, 3, 7, 16, 40, 100])
  func withoutNoiseEveryCulpritOfALinearRangeIsFoundLikeBisectionDoes(count: Int) {
    checkAgainstBisection(Sketch.linear(count).graph, label: "linear \(count)")
  }

  @Test(arguments: 1...12)
  func withoutNoiseEveryCulpritOfAMergeHistoryIsFoundLikeBisectionDoes(seed: Int) {
    var random = SeededGenerator(seed: UInt64(seed))
    var sketch = Sketch.random(
      Int.random(in: 20...90, using: &random), mergeChance: 0.25, using: &random)
    // Some with a good commit, some path-limited (the tip then may not be a candidate).
    if seed % 3 == 1 { sketch.goods = [Int.random(in: 0..<8, using: &random)] }
    if seed % 3 == 2 {
      sketch.candidates = (0..<sketch.parents.count).filter { _ in Bool.random(using: &random) }
    }
    checkAgainstBisection(sketch.graph, label: "seed \(seed)")
  }

  /// Every candidate as the culprit: the same one named as `Bisection`, confidently, with at
  /// most three tests more (with a good boundary, "no regression" is ruled out by a test at
  /// an end of the range).
  private func checkAgainstBisection(_ graph: CommitGraph, label: String) {
    for culprit in graph.candidateIDs {
      let verdict = culpritPredicate(culprit, in: graph)
      var plain = Bisection(graph: graph)
      var plainTests = 0
      while case .test(let commit) = plain.next() {
        plain.record(verdict(commit), for: commit)
        plainTests += 1
      }
      var search = FlakyBisection(graph: graph, settings: noNoise)
      let (conclusion, tested) = drive(&search, verdict: verdict)
      #expect(plain.next() == .concluded(.culprit(culprit)), "\(label)")
      #expect(conclusion.culprit.commit == culprit, "\(label): \(culprit.short())")
      #expect(conclusion.reason == .confident, "\(label)")
      #expect(tested.count <= plainTests + 3, "\(label): \(tested.count) tests, Bisection \(plainTests)")
    }
  }

  // MARK: With noise

  @Test func withTenPercentFalseBadTheCulpritIsRightAlmostAlways() {
    let graph = Sketch.linear(300).graph
    let bound = 2.5 * log2(300.0)
    for rates in [NoiseRates(falseBad: 0.1, falseGood: 0), NoiseRates()] {
      var right = 0
      var runs = 0
      let trials = 300
      for trial in 0..<trials {
        var random = SeededGenerator(seed: UInt64(trial))
        let culprit = commitID(Int.random(in: 0..<300, using: &random))
        let test = NoisyTest(culprit: culprit, in: graph, falseBad: 0.1, seed: UInt64(trial) + 10_000)
        var search = FlakyBisection(graph: graph, settings: FlakySettings(rates: rates))
        let (conclusion, tested) = drive(&search, verdict: test.answer)
        if conclusion.culprit.commit == culprit { right += 1 }
        runs += tested.count
      }
      #expect(right >= trials * 98 / 100, "\(rates): \(right) of \(trials) right")
      #expect(Double(runs) / Double(trials) <= bound, "\(rates): mean \(Double(runs) / Double(trials)) runs")
    }
  }

  @Test func onARealMergeHeavyHistoryNoisyAnswersStillFindTheCulprit() throws {
    let directory = try TemporaryDirectory("flaky")
    let repository = try makeHistory(HistoryShape(commits: 250, seed: 7, mergeRatio: 0.25), in: directory.url)
    let root = lines(try git(["rev-list", "--max-parents=0", "main"], in: repository))[0]
    let graph = try loadGraph(repository: repository, bad: "main", goods: [root])
    let candidates = graph.candidateIDs
    var right = 0
    var plainRight = 0
    let trials = 150
    for trial in 0..<trials {
      let culprit = candidates[(trial * 7919) % candidates.count]
      let test = NoisyTest(
        culprit: culprit, in: graph, falseBad: 0.05, falseGood: 0.05, seed: UInt64(trial) + 500)
      var search = FlakyBisection(
        graph: graph, settings: FlakySettings(rates: NoiseRates(falseBad: 0.05, falseGood: 0.05)))
      if drive(&search, verdict: test.answer).conclusion.culprit.commit == culprit { right += 1 }
      var plain = Bisection(graph: graph)
      while case .test(let commit) = plain.next() { plain.record(test.answer(commit), for: commit) }
      if plain.next() == .concluded(.culprit(culprit)) { plainRight += 1 }
    }
    #expect(right >= trials * 97 / 100, "\(right) of \(trials) right")
    #expect(plainRight < right, "plain bisection: \(plainRight) of \(trials) right")
  }

  /// One lie anywhere in the search: the culprit is still named, confidently, in all but at
  /// most one case in a hundred (what a confidence of 0.99 promises).
  @Test func aSingleLyingAnswerDoesNotBlameAnInnocentCommit() {
    let graph = Sketch.linear(40).graph
    let settings = [
      FlakySettings(rates: NoiseRates(falseBad: 0.1, falseGood: 0.1)),
      FlakySettings(rates: NoiseRates(falseBad: 0.05, falseGood: 0.02)),
      FlakySettings(),
    ]
    var cases = 0
    var wrong = [String]()
    for setting in settings {
      for culprit in stride(from: 0, to: 40, by: 3).map(commitID) {
        let truth = culpritPredicate(culprit, in: graph)
        for lie in 0..<6 {
          var answered = 0
          var search = FlakyBisection(graph: graph, settings: setting)
          let (conclusion, _) = drive(&search) { commit in
            defer { answered += 1 }
            let verdict = truth(commit)
            guard answered == lie else { return verdict }
            return verdict == .bad ? .good : .bad
          }
          cases += 1
          if conclusion.culprit.commit != culprit {
            wrong.append("\(setting.rates), culprit \(culprit.short()), lie \(lie)")
          }
          #expect(conclusion.reason == .confident)
        }
      }
    }
    #expect(wrong.count * 100 <= cases, "\(wrong.count) of \(cases) wrong: \(wrong)")
  }

  // MARK: Skips and budget

  @Test func skippedCommitsAreNeverChosenAgain() {
    var seeded = SeededGenerator(seed: 2024)
    let graph = Sketch.random(80, mergeChance: 0.3, using: &seeded).graph
    let test = NoisyTest(culprit: graph.candidateIDs[30], in: graph, falseBad: 0.1, seed: 3)
    var search = FlakyBisection(graph: graph, settings: FlakySettings(rates: NoiseRates(falseBad: 0.1)))
    var skipped = Set<ObjectID>()
    for step in 0..<40 {
      guard case .test(let commit) = search.next() else { break }
      #expect(!skipped.contains(commit))
      #expect(search.nextRound(count: 3).allSatisfy { !skipped.contains($0) })
      if step % 3 == 0 {
        skipped.insert(commit)
        search.record(.skip, for: commit)
      } else {
        search.record(test.answer(commit), for: commit)
      }
    }
    #expect(skipped.count > 5)
    #expect(search.testRuns == search.verdicts.filter { $0.verdict != .skip }.count)
  }

  @Test func whenEveryInformativeCommitIsSkippedItSaysNothingIsTestable() {
    let graph = Sketch.linear(8).graph
    var search = FlakyBisection(graph: graph)
    var proposals = 0
    while case .test(let commit) = search.next() {
      search.record(.skip, for: commit)
      proposals += 1
    }
    guard case .concluded(let conclusion) = search.next() else { return }
    #expect(conclusion.reason == .nothingTestable)
    #expect(conclusion.testRuns == 0)
    // Each commit was proposed once: the tip too (its runs teach how often bad commits fail).
    #expect(proposals == 8)
    #expect(abs(conclusion.culprit.probability - 1.0 / 8) < 1e-12)
    #expect(search.nextRound(count: 2).isEmpty)
  }

  @Test func theBudgetStopsTheSearchWithTheBestGuess() {
    let graph = Sketch.linear(64).graph
    let culprit = commitID(20)
    let test = NoisyTest(culprit: culprit, in: graph, falseBad: 0.1, seed: 11)
    var search = FlakyBisection(
      graph: graph, settings: FlakySettings(rates: NoiseRates(falseBad: 0.1, falseGood: 0), budget: 4))
    let (conclusion, tested) = drive(&search, verdict: test.answer)
    #expect(tested.count == 4)
    #expect(conclusion.reason == .budgetSpent)
    #expect(conclusion.testRuns == 4)
    let leaders = search.leaders(2)
    #expect(conclusion.culprit == leaders[0])
    #expect(conclusion.runnerUp == leaders[1])
    #expect(conclusion.culprit.probability < 0.99)
    #expect(search.nextRound(count: 3).isEmpty)

    // A round never asks for more than the budget has left.
    var round = FlakyBisection(graph: graph, settings: FlakySettings(budget: 5))
    for commit in round.nextRound(count: 3) { round.record(test.answer(commit), for: commit) }
    #expect(round.nextRound(count: 3).count == 2)
    #expect(FlakySettings.defaultBudget(candidates: 1000) == 359)
    #expect(FlakyBisection(graph: graph).budget == FlakySettings.defaultBudget(candidates: 64))
  }

  // MARK: Rates

  @Test func estimatedRatesConvergeNearTheTrueRates() {
    let graph = Sketch.linear(64).graph
    let culprit = commitID(25)
    let test = NoisyTest(culprit: culprit, in: graph, falseBad: 0.2, falseGood: 0.05, seed: 21)
    var search = FlakyBisection(graph: graph)
    var random = SeededGenerator(seed: 77)
    for _ in 0..<600 {
      let commit = commitID(Int.random(in: 0..<64, using: &random))
      search.record(test.answer(commit), for: commit)
    }
    #expect(abs(search.rates.falseBad - 0.2) < 0.05, "false bad \(search.rates.falseBad)")
    #expect(abs(search.rates.falseGood - 0.05) < 0.03, "false good \(search.rates.falseGood)")
    #expect(search.leaders(1)[0].commit == culprit)
  }

  @Test func configuredRatesAreFlooredAndCapped() {
    let graph = Sketch.linear(10).graph
    func rates(_ falseBad: Double?, _ falseGood: Double?) -> (falseBad: Double, falseGood: Double) {
      FlakyBisection(graph: graph, settings: FlakySettings(rates: NoiseRates(falseBad: falseBad, falseGood: falseGood)))
        .rates
    }
    func near(_ a: Double, _ b: Double) -> Bool { abs(a - b) < 1e-9 }
    // A good commit fails at least 0.1% of its runs and at most 49%; a bad one at least 20%
    // and at most 99.9%.
    let low = rates(0, -1)
    #expect(near(low.falseBad, 0.001) && near(low.falseGood, 0.001), "\(low)")
    let high = rates(0.7, 0.5)
    #expect(near(high.falseBad, 0.49) && near(high.falseGood, 0.5), "\(high)")
    let rare = rates(0.1, 0.95)
    #expect(near(rare.falseBad, 0.1) && near(rare.falseGood, 0.8), "\(rare)")
    // Bad never fails less often than good: a configured pair that says so is lifted.
    let crossed = rates(0.45, 0.7)
    #expect(near(crossed.falseBad, 0.45) && near(crossed.falseGood, 1 - 0.55), "\(crossed)")
    // Unknown rates start from the prior: most good commits pass, most bad ones fail.
    let prior = FlakyBisection(graph: graph).rates
    #expect(prior.falseBad > 0.001 && prior.falseBad < 0.1, "\(prior)")
    #expect(prior.falseGood > 0.001 && prior.falseGood < 0.2, "\(prior)")
  }

  @Test func verdictsOnTheBoundariesAndTheTipInformTheRatesAndNoRegressionOnly() {
    let graph = Sketch(parents: Sketch.linear(30).parents, tip: 29, goods: [5]).graph
    let boundary = commitID(5)
    let outside = commitID(2)
    func equallyLikely(_ search: FlakyBisection) -> Bool {
      let probabilities = search.leaders(30).map(\.probability)
      return (probabilities.max() ?? 0) - (probabilities.min() ?? 0) < 1e-12
    }
    for rates in [NoiseRates(falseBad: 0.1, falseGood: 0.05), NoiseRates()] {
      var search = FlakyBisection(graph: graph, settings: FlakySettings(rates: rates))
      let before = search.rates
      #expect(abs(search.noRegression - FlakyBisection.noRegressionPrior) < 1e-12)
      search.record(.bad, for: boundary)
      search.record(.bad, for: outside)
      #expect(search.testRuns == 2)
      // Good commits that fail make "every commit fails alike" likelier; no candidate moves.
      #expect(search.noRegression > FlakyBisection.noRegressionPrior)
      #expect(equallyLikely(search))
      if rates.falseBad == nil {
        #expect(search.rates.falseBad > before.falseBad)
        let raised = search.rates.falseBad
        search.record(.good, for: boundary)
        #expect(search.rates.falseBad < raised)
        search.record(.good, for: graph.tip)
        #expect(search.rates.falseGood > before.falseGood)
      } else {
        #expect(abs(search.rates.falseBad - before.falseBad) < 1e-9)
        #expect(abs(search.rates.falseGood - before.falseGood) < 1e-9)
      }
      #expect(equallyLikely(search))
    }
  }

  // MARK: Determinism and rounds

  @Test func theSameVerdictsGiveTheSameChoices() {
    var seeded = SeededGenerator(seed: 2024)
    let graph = Sketch.random(120, mergeChance: 0.3, using: &seeded).graph
    let test = NoisyTest(culprit: graph.candidateIDs[50], in: graph, falseBad: 0.1, falseGood: 0.05, seed: 5)
    var first = FlakyBisection(graph: graph)
    _ = drive(&first, verdict: test.answer)
    var replay = FlakyBisection(graph: graph)
    var again = FlakyBisection(graph: graph)
    for recorded in first.verdicts {
      #expect(replay.next() == again.next())
      #expect(replay.nextRound(count: 3) == again.nextRound(count: 3))
      if case .test(let commit) = replay.next() { #expect(commit == recorded.commit) }
      replay.record(recorded.verdict, for: recorded.commit)
      again.record(recorded.verdict, for: recorded.commit)
    }
    #expect(replay.next() == first.next())
    #expect(replay.leaders(5) == first.leaders(5))
    #expect(replay.rates == first.rates)
  }

  @Test func aRoundOfOneIsTheNextCommitAndLargerRoundsSplitTheMass() {
    let graph = Sketch.linear(100).graph
    let search = FlakyBisection(graph: graph, settings: noNoise)
    guard case .test(let next) = search.next() else {
      Issue.record("nothing to test")
      return
    }
    #expect(search.nextRound(count: 1) == [next])
    // Commit k (root first) has 100 - k candidates among its ancestors-or-self.
    #expect(search.nextRound(count: 3) == [24, 49, 74].map(commitID))
    #expect(Set(search.nextRound(count: 9)).count == 9)
  }

  @Test func roundsOfThreeFindTheCulpritDespiteNoise() {
    var seeded = SeededGenerator(seed: 2025)
    let graph = Sketch.random(150, mergeChance: 0.25, using: &seeded).graph
    var right = 0
    for trial in 0..<60 {
      let culprit = graph.candidateIDs[(trial * 37) % graph.candidateCount]
      let test = NoisyTest(culprit: culprit, in: graph, falseBad: 0.1, seed: UInt64(trial) + 99)
      var search = FlakyBisection(graph: graph, settings: FlakySettings(rates: NoiseRates(falseBad: 0.1)))
      var rounds = 0
      while true {
        let commits = search.nextRound(count: 3)
        if commits.isEmpty { break }
        #expect(Set(commits).count == commits.count && commits.count <= 3)
        for commit in commits { search.record(test.answer(commit), for: commit) }
        rounds += 1
      }
      guard case .concluded(let conclusion) = search.next() else { continue }
      if conclusion.culprit.commit == culprit { right += 1 }
      // 36 to 48 runs: the rate of bad commits is learnt on the way.
      #expect(rounds <= 16, "trial \(trial): \(rounds) rounds")
    }
    #expect(right >= 58, "\(right) of 60 right")
  }

  // MARK: Edges and size

  @Test func aSingleCandidateOrNoneIsConcludedWithoutTesting() {
    let one = FlakyBisection(graph: Sketch.linear(1).graph)
    guard case .concluded(let conclusion) = one.next() else {
      Issue.record("a single candidate was not concluded")
      return
    }
    #expect(conclusion.culprit == RankedCulprit(commit: commitID(0), probability: 1))
    #expect(conclusion.runnerUp == nil && conclusion.reason == .confident && conclusion.testRuns == 0)

    let empty = FlakyBisection(graph: Sketch(parents: Sketch.linear(4).parents, tip: 2, goods: [3]).graph)
    #expect(empty.candidateCount == 0)
    guard case .concluded(let nothing) = empty.next() else {
      Issue.record("an empty range was not concluded")
      return
    }
    #expect(nothing.reason == .nothingTestable && nothing.culprit.probability == 0)
  }

  @Test func theFirstChoiceOnTenThousandCommitsIsQuick() {
    var random = SeededGenerator(seed: 10_000)
    let graph = Sketch.random(10_000, mergeChance: 0.2, using: &random).graph
    let clock = ContinuousClock()
    let started = clock.now
    let search = FlakyBisection(graph: graph)
    guard case .test(let commit) = search.next() else {
      Issue.record("nothing to test")
      return
    }
    // Debug builds are slow; release takes about a millisecond.
    #expect(clock.now - started < .seconds(2))
    let reach = Bisection(graph: graph).reach(of: commit)!
    let total = graph.candidateCount
    #expect(abs(Double(reach) / Double(total) - 0.5) < 0.05, "reach \(reach) of \(total)")
  }
}
