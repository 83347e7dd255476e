import BisectEngine
import Foundation
import GitKit
import History

extension HuntSession {
  /// The probabilistic search for flaky tests (`flaky:` or `--flaky`): every test run is
  /// evidence for Bayes' rule, commits may be tested again, and it stops when one candidate
  /// is the culprit with the configured confidence or the budget of test runs is spent.
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
    var engine = FlakyBisection(
      graph: graph,
      settings: FlakySettings(
        rates: NoiseRates(falseBad: mode.falseBad, falseGood: mode.falseGood), confidence: mode.confidence,
        budget: mode.budget))
    var fed = 0
    while true {
      applyManualVerdicts()
      while fed < steps.count {
        if evidence(steps[fed]) { feed(steps[fed], into: &engine) }
        fed += 1
      }
      if let reason = stopper.reason { return ProbabilisticRun(outcome: .stopped(reason)) }
      let commits: [ObjectID]
      switch engine.next() {
      case .concluded(let conclusion):
        return conclude(conclusion, rates: engine.rates, confidence: mode.confidence)
      case .test(let commit):
        var mass = 0.0
        findings.plausibleCount =
          engine.leaders(min(engine.candidateCount, 5000)).prefix { ranked in
            defer { mass += ranked.probability }
            return mass < mode.confidence
          }.count
        let round = active.count > 1 ? engine.nextRound(count: active.count) : []
        commits = round.isEmpty ? [commit] : round
      }
      let records = await runRound(commits.map { ($0, purpose) })
      for record in records {
        switch record.result {
        case .stopped: return ProbabilisticRun(outcome: .stopped(stopper.reason ?? .signal(SIGINT)))
        case .abort(let why): return ProbabilisticRun(outcome: .aborted(why))
        case .verdict: break
        }
      }
    }
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
    _ conclusion: FlakyConclusion, rates: (falseBad: Double, falseGood: Double), confidence: Double
  ) -> ProbabilisticRun {
    let summary = FlakySummary(
      culprit: conclusion.culprit.commit, probability: conclusion.culprit.probability,
      runnerUp: conclusion.runnerUp?.commit, runnerUpProbability: conclusion.runnerUp?.probability,
      reason: conclusion.reason.rawValue, testRuns: conclusion.testRuns, confidence: confidence,
      falseBad: rates.falseBad, falseGood: rates.falseGood)
    _ = try? info(conclusion.culprit.commit)
    if let runnerUp = conclusion.runnerUp { _ = try? info(runnerUp.commit) }
    // Below the confidence asked, the honest answer names the two most likely commits.
    guard conclusion.reason != .confident, let runnerUp = conclusion.runnerUp else {
      return ProbabilisticRun(outcome: .culprit(conclusion.culprit.commit), summary: summary)
    }
    return ProbabilisticRun(outcome: .culpritAmong([conclusion.culprit.commit, runnerUp.commit]), summary: summary)
  }
}
