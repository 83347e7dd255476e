import BisectEngine
import Foundation
import History
import Testing

/// A regression that shows in only some runs: bad commits fail with `bad`, good ones with
/// `good`, drawn from a seeded generator so that every run of the suite is the same.
private struct IntermittentTest {
  let truth: (ObjectID) -> Verdict
  let bad: Double
  let good: Double
  var random: SeededGenerator

  mutating func run(_ commit: ObjectID) -> Verdict {
    let rate = truth(commit) == .bad ? bad : good
    return Double.random(in: 0..<1, using: &random) < rate ? .bad : .good
  }
}

/// Drives `search` with one environment at `costs`: the endpoints first (as a hunt checks
/// them), then the plan, testing again where it says. Returns the conclusion, the runs and
/// the deploys.
private func hunt(_ search: inout FlakyBisection, _ test: inout IntermittentTest, costs: RunCosts) -> (
  conclusion: FlakyConclusion, runs: Int, deploys: Int
) {
  let graph = search.graph
  search.record(test.run(graph.tip), for: graph.tip)
  search.record(test.run(graph.boundaries[0]), for: graph.boundaries[0])
  var deployed: ObjectID? = graph.boundaries[0]
  var runs = 2
  var deploys = 2
  while true {
    switch search.plan(deployed: [deployed], costs: costs) {
    case .concluded(let conclusion): return (conclusion, runs, deploys)
    case .tests(let tests):
      if tests[0].environment == nil { deploys += 1 }
      #expect(tests[0].environment == nil || tests[0].commit == deployed)
      deployed = tests[0].commit
      runs += 1
      search.record(test.run(tests[0].commit), for: tests[0].commit)
    }
  }
}

@Suite struct IntermittentRegressionTests {
  /// A linear range of 120 commits above a good boundary.
  private static let graph = Sketch(parents: Sketch.linear(121).parents, tip: 120, goods: [0]).graph

  @Test("a regression that fails one run in two is found with the rates not given, its rates estimated")
  func halfTheRuns() {
    var right = 0
    var wrong = [String]()
    var after = [Double]()
    let trials = 40
    for trial in 0..<trials {
      let culprit = commitID(5 + (trial * 37) % 110)
      var test = IntermittentTest(
        truth: culpritPredicate(culprit, in: Self.graph), bad: 0.5, good: 0.02,
        random: SeededGenerator(seed: UInt64(500 + trial)))
      var search = FlakyBisection(graph: Self.graph)
      let (conclusion, _, _) = hunt(&search, &test, costs: RunCosts(deploy: 3, test: 1))
      if conclusion.reason == .confident && conclusion.culprit.commit == culprit {
        right += 1
        // Each hunt estimates from its own runs (a lucky one may see bad fail every time);
        // the mean of the estimates lies near the truth.
        #expect(conclusion.failureRates.after > 0.2, "\(conclusion)")
        #expect(conclusion.failureRates.before < 0.15, "\(conclusion)")
        after.append(conclusion.failureRates.after)
      } else {
        wrong.append(
          "trial \(trial): \(conclusion.reason) \(conclusion.culprit.commit.short()), not \(culprit.short())")
      }
    }
    #expect(right >= trials - 1, "\(right) of \(trials): \(wrong)")
    let mean = after.reduce(0, +) / Double(max(1, after.count))
    #expect(mean > 0.4 && mean < 0.65, "mean estimate \(mean) of a rate of 0.5")
  }

  @Test("one passing run of bad ends nothing; the same failure rates on both sides end as 'no regression'")
  func noRegression() {
    var search = FlakyBisection(graph: Self.graph)
    search.record(.good, for: Self.graph.tip)
    search.record(.good, for: Self.graph.boundaries[0])
    guard case .tests = search.plan(deployed: [Self.graph.boundaries[0]], costs: RunCosts(deploy: 3, test: 1)) else {
      Issue.record("concluded after one passing run of bad")
      return
    }
    // A test that never fails: every commit passes.
    var test = IntermittentTest(
      truth: { _ in .good }, bad: 0, good: 0, random: SeededGenerator(seed: 1))
    var fresh = FlakyBisection(graph: Self.graph)
    let (conclusion, runs, deploys) = hunt(&fresh, &test, costs: RunCosts(deploy: 3, test: 1))
    #expect(conclusion.reason == .noRegression)
    #expect(conclusion.noRegression >= 0.99)
    #expect(conclusion.sameRate < 0.05)
    // Mostly tests of bad again where it is deployed: few deploys for the runs.
    #expect(runs >= 12 && runs <= 60, "\(runs) runs")
    #expect(deploys * 3 <= runs, "\(deploys) deploys for \(runs) runs")
  }

  @Test("a costly deploy makes the search test again where a commit is deployed; a free one never has to")
  func costsDecide() {
    func spent(_ costs: RunCosts) -> (runs: Int, deploys: Int) {
      var runs = 0
      var deploys = 0
      for trial in 0..<12 {
        let culprit = commitID(10 + trial * 9)
        var test = IntermittentTest(
          truth: culpritPredicate(culprit, in: Self.graph), bad: 0.6, good: 0.05,
          random: SeededGenerator(seed: UInt64(900 + trial)))
        var search = FlakyBisection(graph: Self.graph)
        let result = hunt(&search, &test, costs: costs)
        #expect(result.conclusion.culprit.commit == culprit)
        runs += result.runs
        deploys += result.deploys
      }
      return (runs, deploys)
    }
    let free = spent(.testsOnly)
    let costly = spent(RunCosts(deploy: 10, test: 1))
    #expect(costly.deploys * 3 < free.deploys * 2, "deploys: \(costly.deploys) costly, \(free.deploys) free")
    #expect(costly.runs > costly.deploys, "\(costly)")
  }

  @Test("the plan is deterministic: the same verdicts and deployments give the same plan")
  func deterministicPlan() {
    var test = IntermittentTest(
      truth: culpritPredicate(commitID(40), in: Self.graph), bad: 0.5, good: 0.05, random: SeededGenerator(seed: 7))
    var first = FlakyBisection(graph: Self.graph)
    _ = hunt(&first, &test, costs: RunCosts(deploy: 5, test: 1))
    var replay = FlakyBisection(graph: Self.graph)
    var deployed: ObjectID?
    for recorded in first.verdicts {
      let plan = replay.plan(deployed: [deployed, nil], costs: RunCosts(deploy: 5, test: 1))
      #expect(plan == replay.plan(deployed: [deployed, nil], costs: RunCosts(deploy: 5, test: 1)))
      replay.record(recorded.verdict, for: recorded.commit)
      deployed = recorded.commit
    }
    #expect(replay.leaders(3) == first.leaders(3))
    #expect(replay.noRegression == first.noRegression)
  }
}
