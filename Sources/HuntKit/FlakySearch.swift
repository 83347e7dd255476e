import BisectEngine
import Foundation
import GitKit
import History

extension FlakyMode {
  /// The engine's settings for this mode.
  package var settings: FlakySettings {
    FlakySettings(
      rates: NoiseRates(falseBad: falseBad, falseGood: falseGood), confidence: confidence, budget: budget)
  }
}

extension HuntSession {
  /// The probabilistic search for intermittent tests (`flaky:` or `--flaky`): every test run
  /// is evidence for Bayes' rule, commits may be tested again (where they are deployed, when
  /// that pays), and it stops when one candidate is the culprit, or "no regression" holds,
  /// with the configured confidence, or the budget of test runs is spent.
  package mutating func flakySearch() async -> HuntOutcome {
    // Nothing that may be blamed: the same answer as plain bisection (exit 6), never the tip.
    if outerGraph.candidateCount == 0 {
      if case .concluded(let conclusion) = bisection.next() { return outcome(of: conclusion) }
      return .nothingToSearch(.noCandidate)
    }
    // Everything recorded so far is evidence: endpoint checks, verdicts by hand, rounds.
    let run = await probabilisticSearch(over: outerGraph, purpose: .bisect) { _ in true }
    if let summary = run.summary { findings.flaky = summary }
    return run.outcome
  }

  /// What a probabilistic search ended with, and its last word when it concluded.
  package struct ProbabilisticRun {
    var outcome: HuntOutcome
    var summary: FlakySummary?
  }

  /// The probabilistic search over `graph` (the hunt's range, or a dependency's), testing
  /// with `purpose`; the steps `evidence` accepts are fed to the engine as they come.
  package mutating func probabilisticSearch(
    over graph: CommitGraph, purpose: StepRecord.Purpose, evidence: (StepRecord) -> Bool
  ) async -> ProbabilisticRun {
    let mode = configuration.flaky ?? FlakyMode()
    var engine = FlakyBisection(graph: graph, settings: mode.settings)
    var fed = 0
    var accepted = [StepRecord]()
    while true {
      applyManualVerdicts()
      while fed < steps.count {
        if evidence(steps[fed]) {
          feed(steps[fed], into: &engine)
          accepted.append(steps[fed])
        }
        fed += 1
      }
      if let reason = stopper.reason { return ProbabilisticRun(outcome: .stopped(reason)) }
      // What each environment has deployed, when it is a commit of this search's range (a
      // dependency's steps deploy the culprit's tree, never tested again in place).
      let names = active.map(\.name)
      let deployed: [ObjectID?] = names.map { name in
        guard !purpose.deploysDependency, let commit = pool.deployed[name] else { return nil }
        return graph.number(of: commit) != nil || graph.boundaries.contains(commit) ? commit : nil
      }
      let tests: [FlakyTest]
      switch engine.plan(deployed: deployed, costs: runCosts(mode)) {
      case .concluded(let conclusion):
        return conclude(conclusion, engine: engine, graph: graph, steps: accepted, confidence: mode.confidence)
      case .tests(let planned):
        var mass = 0.0
        findings.plausibleCount =
          engine.leaders(min(engine.candidateCount, 5000)).prefix { ranked in
            defer { mass += ranked.probability }
            return mass < mode.confidence
          }.count
        tests = planned
      }
      let records = await runRound(
        tests.map { ($0.commit, purpose) }, testAgainIn: tests.map { $0.environment.map { names[$0] } })
      for record in records {
        switch record.result {
        case .stopped: return ProbabilisticRun(outcome: .stopped(stopper.reason ?? .signal(SIGINT)))
        case .abort(let why): return ProbabilisticRun(outcome: .aborted(why))
        case .verdict: break
        }
      }
    }
  }

  /// What a deploy and a test run cost: as configured, else the means measured in this hunt
  /// (stored steps included, so a resumed hunt weighs as the first run did), else a deploy six
  /// times a test. Without a deploy command every run costs a test.
  func runCosts(_ mode: FlakyMode) -> RunCosts {
    guard configuration.deployCommand != nil else { return .testsOnly }
    func seconds(_ duration: Duration) -> Double {
      Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
    let measured = steps.filter { !$0.reused && !$0.moved }
    let deploys = measured.compactMap { $0.retest ? nil : $0.deploySeconds }
    let tests = measured.compactMap { step in
      step.testSeconds.map { $0 / Double(max(1, step.runVerdicts.count)) }
    }
    func mean(_ values: [Double]) -> Double? { values.isEmpty ? nil : values.reduce(0, +) / Double(values.count) }
    // A run of a few milliseconds (a test that exits at once) still costs something.
    let test = mode.testCost.map(seconds) ?? max(0.01, mean(tests) ?? 10)
    let deploy = mode.deployCost.map(seconds) ?? mean(deploys) ?? 6 * test
    return RunCosts(deploy: deploy, test: test)
  }

  /// Gives the engine each run of a step's test as its own piece of evidence.
  private func feed(_ record: StepRecord, into engine: inout FlakyBisection) {
    guard !record.moved, case .verdict(let verdict) = record.result else { return }
    let runs = record.runVerdicts.filter { $0 != .skip }
    if runs.isEmpty {
      engine.record(verdict, for: record.commit)
    } else {
      for run in runs { engine.record(run, for: record.commit) }
    }
  }

  private mutating func conclude(
    _ conclusion: FlakyConclusion, engine: FlakyBisection, graph: CommitGraph, steps accepted: [StepRecord],
    confidence: Double
  ) -> ProbabilisticRun {
    // The runs at the endpoints, for "bad failed 0 of 12, good 0 of 12".
    func tally(_ matches: (ObjectID) -> Bool) -> RunTally {
      var fails = 0
      var runs = 0
      for step in accepted where !step.moved && matches(step.commit) {
        guard case .verdict(let verdict) = step.result else { continue }
        let answers = step.runVerdicts.isEmpty ? [verdict] : step.runVerdicts
        for answer in answers where answer != .skip {
          runs += 1
          if answer == .bad { fails += 1 }
        }
      }
      return RunTally(fails: fails, runs: runs)
    }
    let atBad = tally { $0 == graph.tip }
    let atGood = tally { graph.boundaries.contains($0) }
    let deploys = self.steps.filter { !$0.reused && !$0.retest && $0.deploySeconds != nil }.count
    let summary = FlakySummary(
      culprit: conclusion.culprit.commit, probability: conclusion.culprit.probability,
      runnerUp: conclusion.runnerUp?.commit, runnerUpProbability: conclusion.runnerUp?.probability,
      reason: conclusion.reason.rawValue, testRuns: conclusion.testRuns, confidence: confidence,
      falseBad: conclusion.failureRates.before, falseGood: 1 - conclusion.failureRates.after,
      noRegression: conclusion.noRegression, sameRate: conclusion.sameRate, deploys: deploys,
      badEnd: atBad, goodEnd: atGood)
    _ = try? info(conclusion.culprit.commit)
    if let runnerUp = conclusion.runnerUp { _ = try? info(runnerUp.commit) }
    switch conclusion.reason {
    case .confident:
      return ProbabilisticRun(outcome: .culprit(conclusion.culprit.commit), summary: summary)
    case .noRegression:
      return ProbabilisticRun(outcome: .noRegression, summary: summary)
    case .budgetSpent, .nothingTestable:
      // Below the confidence asked, the honest answer names the two most likely commits.
      guard let runnerUp = conclusion.runnerUp else {
        return ProbabilisticRun(outcome: .culprit(conclusion.culprit.commit), summary: summary)
      }
      return ProbabilisticRun(
        outcome: .culpritAmong([conclusion.culprit.commit, runnerUp.commit]), summary: summary)
    }
  }
}
