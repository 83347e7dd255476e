import ArgumentParser
import BisectEngine
import Foundation
import GitKit
import History

/// `bisect-deploy-bench flaky`: the search methods against a simulated intermittent smoke
/// test, on real histories (generated, or given with `--repo`).
///
/// Each trial draws a culprit among the range's candidates; a commit is truly bad when the
/// culprit is among its ancestors-or-self. A run on a truly bad commit fails with the case's
/// `bad` rate, on a good one with its `good` rate. Each method is simulated as the hunt runs
/// it, endpoint checks included: plain bisection (`git bisect run`: one run per step; a
/// passing bad is "no regression"), `repeat: 5` (the majority of up to five runs per step, the
/// endpoints too), and `--flaky` with the rates not given (bad and good tested once each, then
/// the engine's plan, which tests again where a commit is deployed when that pays), and given
/// (the case's own rates: the cost of the search when no rate has to be learnt), counting
/// deploys and test runs at the costs given. "Right" is the exact culprit named as the
/// answer; a budget spent or "no regression" is wrong. Everything is drawn from seeded
/// generators, so the same arguments print the same tables.
struct FlakyBenchmark: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "flaky",
    abstract: "Accuracy, test runs and deploys of the search methods against a simulated intermittent test.")

  @Option(help: "A repository to use (repeatable); none: generate a linear and a merge-heavy history.")
  var repo: [String] = []
  @Option(help: "Commits in each generated history.") var commits = 1000
  @Option(help: "The history generator, for generated histories.") var script = "Fixtures/make-history.py"
  @Option(help: "The bad end of the range.") var bad = "main"
  @Option(help: "The good end (default: the root commit of --bad).") var good: String?
  @Option(help: "Trials per history, case and method.") var trials = 100
  @Option(help: "Seed of the culprits and of the test's answers.") var seed: UInt64 = 1
  @Option(help: "The cost of one deploy, in the unit of --test-cost.") var deployCost = 3.0
  @Option(help: "The cost of one test run.") var testCost = 1.0
  @Option(help: "Only the cases whose name contains this (e.g. 'bad 50%').") var only: String?

  func validate() throws {
    if trials < 1 { throw ValidationError("--trials must be at least 1") }
    if commits < 3 { throw ValidationError("--commits must be at least 3") }
    if !(deployCost >= 0) || !(testCost > 0) {
      throw ValidationError("--deploy-cost must be 0 or more and --test-cost more than 0")
    }
  }

  func run() throws {
    var sources = repo.map { (label: URL(fileURLWithPath: $0).lastPathComponent, path: $0) }
    var scratch: URL?
    if sources.isEmpty {
      let folder = FileManager.default.temporaryDirectory.appendingPathComponent("flaky-bench-\(UUID().uuidString)")
      try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
      scratch = folder
      for (label, ratio) in [("linear", "0"), ("merge-heavy", "0.2")] {
        let path = folder.appendingPathComponent(label).path
        _ = try runTool(
          "python3", [script, path, "--commits", String(commits), "--merge-ratio", ratio, "--seed", "1"])
        sources.append((label, path))
      }
    }
    defer { if let scratch { try? FileManager.default.removeItem(at: scratch) } }

    print(
      String(
        format:
          "Simulated intermittent smoke test: %d trials per row, seed %llu; a deploy costs %.3g, a test run %.3g.",
        trials, seed, deployCost, testCost))
    print("right: the exact culprit named as the answer; runs and deploys: mean, endpoint checks included.")
    for (offset, source) in sources.enumerated() {
      let repository = try Repository(at: source.path)
      let goodName =
        try good ?? String(runGit(["-C", source.path, "rev-list", "--max-parents=0", bad]).split(separator: "\n")[0])
      let graph = try repository.commitGraph(
        bad: try repository.resolve(bad), goods: [try repository.resolve(goodName)])
      try report(graph: graph, label: source.label, history: UInt64(offset))
    }
  }

  private func report(graph: CommitGraph, label: String, history: UInt64) throws {
    let simulation = Simulation(graph: graph)
    let count = simulation.candidates.count
    guard count > 1 else { throw ValidationError("\(label): fewer than two candidates") }
    let merges = graph.ids.indices.filter { graph.parentCount(of: $0) > 1 }.count
    let log2N = log2(Double(count))
    let costs = RunCosts(deploy: deployCost, test: testCost)
    print("")
    print(String(format: "## %@: N = %d candidates (%d merges), log2 N = %.2f", label, count, merges, log2N))
    print("")
    print(
      String(
        format: "FlakyBisection first choice (init + plan): %.1f ms, median of 5",
        firstChoiceMilliseconds(graph, costs: costs)))
    print("")
    print(
      "| case | method | right | mean runs | mean deploys | p90 runs | max runs | budget spent | no regression | information limit | goal |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    let started = ContinuousClock.now
    for (caseOffset, failure) in FailureCase.all.enumerated() {
      if let only, !failure.name.contains(only) { continue }
      let capacity = channelCapacity(falseBad: failure.good, falseGood: 1 - failure.bad)
      for method in Method.allCases {
        var right = 0
        var runs = [Int]()
        var deploys = 0
        var budgetStops = 0
        var noRegression = 0
        for trial in 0..<trials {
          // The same culprits for every method and case; the answers drawn per row.
          var culpritDraw = SplitMix64(seed: mix(seed, history, 0, UInt64(trial)))
          let culprit = simulation.candidates[Int(culpritDraw.next() % UInt64(count))]
          var test = SimulatedTest(
            truth: simulation.truth(culprit: culprit), failure: failure,
            random: SplitMix64(
              seed: mix(seed, history, 1 + UInt64(caseOffset) * 8 + UInt64(method.rawValue), UInt64(trial))))
          let result = method.run(simulation, &test, costs: costs)
          if result.culprit == graph.ids[culprit] { right += 1 }
          if result.budgetSpent { budgetStops += 1 }
          if result.noRegression { noRegression += 1 }
          runs.append(test.runs)
          deploys += test.deploys
        }
        runs.sort()
        let mean = Double(runs.reduce(0, +)) / Double(runs.count)
        let p90 = runs[Swift.min(runs.count - 1, Int((Double(runs.count) * 0.9).rounded(.up)) - 1)]
        print(
          String(
            format: "| %@ | %@ | %.1f%% | %.1f | %.1f | %d | %d | %d | %d | %.1f | %@ |", failure.name, method.name,
            100 * Double(right) / Double(trials), mean, Double(deploys) / Double(trials), p90, runs.last ?? 0,
            budgetStops, noRegression, log2N / capacity, method == .flaky ? failure.goal : ""))
      }
    }
    print("")
    print(String(format: "(%.1f s for this history)", seconds(ContinuousClock.now - started)))
  }
}

/// The median time to build a `FlakyBisection` of `graph` and plan its first test.
private func firstChoiceMilliseconds(_ graph: CommitGraph, costs: RunCosts) -> Double {
  var times = [Double]()
  for _ in 0..<5 {
    let started = ContinuousClock.now
    let search = FlakyBisection(graph: graph)
    _ = search.plan(deployed: [nil], costs: costs)
    times.append(seconds(ContinuousClock.now - started) * 1000)
  }
  return median(times)
}

/// How often the simulated test fails: on truly bad commits, and on truly good ones.
private struct FailureCase {
  var name: String
  var bad: Double
  var good: Double
  /// The goal for `--flaky`, as printed.
  var goal: String

  static let all = [
    FailureCase(name: "bad 50%, good 2%", bad: 0.5, good: 0.02, goal: ">= 97%, <= 60 runs, <= 25 deploys"),
    FailureCase(name: "bad 90%, good 10%", bad: 0.9, good: 0.1, goal: ">= 99%, <= 28 runs"),
    FailureCase(name: "bad 100%, good 10%", bad: 1, good: 0.1, goal: ">= 99.5%, <= 17 runs"),
    FailureCase(name: "bad 100%, good 0%", bad: 1, good: 0, goal: "100%, <= 12 runs"),
    FailureCase(name: "bad 30%, good 0%", bad: 0.3, good: 0, goal: ">= 95%"),
  ]
}

/// The range as the simulation needs it: candidates and descendant sets.
private struct Simulation {
  let graph: CommitGraph
  let candidates: [Int]

  init(graph: CommitGraph) {
    self.graph = graph
    candidates = graph.ids.indices.filter { graph.isCandidate[$0] }
  }

  /// Which commits are truly bad when `culprit` is the culprit: it and its descendants
  /// (children have smaller numbers than their parents).
  func truth(culprit: Int) -> [Bool] {
    var bad = [Bool](repeating: false, count: graph.count)
    bad[culprit] = true
    for number in stride(from: culprit - 1, through: 0, by: -1) {
      graph.forEachParent(of: number) { if bad[$0] { bad[number] = true } }
    }
    return bad
  }
}

/// The simulated smoke test and environment: fails at the case's rates; counts its runs and
/// the deploys.
private struct SimulatedTest {
  let truth: [Bool]
  let failure: FailureCase
  var random: SplitMix64
  private(set) var runs = 0
  private(set) var deploys = 0

  init(truth: [Bool], failure: FailureCase, random: SplitMix64) {
    self.truth = truth
    self.failure = failure
    self.random = random
  }

  /// Deploys the commit numbered `number` (nil: the good boundary, outside the range).
  mutating func deploy() { deploys += 1 }

  /// Runs the test on the commit numbered `number` (nil: the good boundary).
  mutating func run(_ number: Int?) -> Verdict {
    runs += 1
    let rate = number.map { truth[$0] } == true ? failure.bad : failure.good
    return random.nextUnit() < rate ? .bad : .good
  }
}

/// What one trial of a method named.
private struct TrialResult {
  var culprit: ObjectID?
  var budgetSpent = false
  var noRegression = false
}

/// The methods compared.
private enum Method: Int, CaseIterable {
  case plain
  case repeatFive
  case flaky
  case flakyRatesGiven

  var name: String {
    switch self {
    case .plain: "plain bisection"
    case .repeatFive: "repeat: 5"
    case .flaky: "--flaky"
    case .flakyRatesGiven: "--flaky, rates given"
    }
  }

  func run(_ simulation: Simulation, _ test: inout SimulatedTest, costs: RunCosts) -> TrialResult {
    let graph = simulation.graph
    let tip = graph.number(of: graph.tip)!
    switch self {
    case .plain, .repeatFive:
      let repeats = self == .plain ? 1 : 5
      // The endpoint checks: a passing bad is "no regression", a failing good a contradiction.
      guard Self.step(tip, repeats: repeats, &test) == .bad else { return TrialResult(noRegression: true) }
      guard Self.step(nil, repeats: repeats, &test) == .good else { return TrialResult() }
      var bisection = Bisection(graph: graph)
      while true {
        switch bisection.next() {
        case .test(let commit):
          bisection.record(Self.step(graph.number(of: commit)!, repeats: repeats, &test), for: commit)
        case .concluded(.culprit(let culprit)):
          return TrialResult(culprit: culprit)
        case .concluded:
          return TrialResult()
        }
      }
    case .flaky, .flakyRatesGiven:
      // Given, the rates are the case's own: what the search costs when nothing is learnt.
      let rates =
        self == .flaky ? NoiseRates() : NoiseRates(falseBad: test.failure.good, falseGood: 1 - test.failure.bad)
      var search = FlakyBisection(graph: graph, settings: FlakySettings(rates: rates))
      test.deploy()
      search.record(test.run(tip), for: graph.tip)
      let boundary = graph.boundaries[0]
      test.deploy()
      search.record(test.run(nil), for: boundary)
      var deployed = boundary
      while true {
        switch search.plan(deployed: [deployed], costs: costs) {
        case .tests(let tests):
          let next = tests[0]
          if next.environment == nil { test.deploy() }
          deployed = next.commit
          search.record(test.run(graph.number(of: next.commit)), for: next.commit)
        case .concluded(let conclusion):
          switch conclusion.reason {
          case .confident: return TrialResult(culprit: conclusion.culprit.commit)
          case .noRegression: return TrialResult(noRegression: true)
          case .budgetSpent: return TrialResult(budgetSpent: true)
          case .nothingTestable: return TrialResult()
          }
        }
      }
    }
  }

  /// One step: a deploy and up to `repeats` runs, the majority decides (early stop).
  private static func step(_ number: Int?, repeats: Int, _ test: inout SimulatedTest) -> Verdict {
    test.deploy()
    var bad = 0
    var good = 0
    let needed = repeats / 2 + 1
    while bad < needed && good < needed {
      if test.run(number) == .bad { bad += 1 } else { good += 1 }
    }
    return bad > good ? .bad : .good
  }
}

/// Bits per test of the noisy test as a channel: the most information one answer can carry.
private func channelCapacity(falseBad: Double, falseGood: Double) -> Double {
  func entropy(_ p: Double) -> Double { p <= 0 || p >= 1 ? 0 : -(p * log2(p) + (1 - p) * log2(1 - p)) }
  func information(_ q: Double) -> Double {
    entropy(q * (1 - falseGood) + (1 - q) * falseBad) - q * entropy(falseGood) - (1 - q) * entropy(falseBad)
  }
  var low = 0.0
  var high = 1.0
  for _ in 0..<100 {
    let left = low + (high - low) / 3
    let right = high - (high - low) / 3
    if information(left) < information(right) { low = left } else { high = right }
  }
  return information((low + high) / 2)
}

/// SplitMix64: a small seeded generator, so that every run of the benchmark draws the same.
private struct SplitMix64: RandomNumberGenerator {
  private var state: UInt64

  init(seed: UInt64) { state = seed }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var value = state
    value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
    value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
    return value ^ (value >> 31)
  }

  /// A uniform draw from [0, 1), 53 bits.
  mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }
}

/// One seed from several numbers, each step scrambled by SplitMix64.
private func mix(_ parts: UInt64...) -> UInt64 {
  var state: UInt64 = 0
  for part in parts {
    var generator = SplitMix64(seed: state ^ part)
    state = generator.next()
  }
  return state
}
