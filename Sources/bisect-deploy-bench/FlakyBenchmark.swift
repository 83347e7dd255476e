import ArgumentParser
import BisectEngine
import Foundation
import GitKit
import History

/// `bisect-deploy-bench flaky`: the bisection engines against a simulated smoke test that
/// answers wrongly at a given rate, on real histories (generated, or given with `--repo`).
///
/// Each trial draws a culprit among the range's candidates; a commit is truly bad when the
/// culprit is among its ancestors-or-self, and the simulated test flips that truth with the
/// setting's probabilities. The endpoints are known (bad tip, good boundary) and never tested.
/// Everything is drawn from seeded generators, so the same arguments print the same table.
struct FlakyBenchmark: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "flaky",
    abstract: "Accuracy and test runs of the engines against a simulated flaky smoke test.")

  @Option(help: "A repository to use (repeatable); none: generate a linear and a merge-heavy history.")
  var repo: [String] = []
  @Option(help: "Commits in each generated history.") var commits = 1000
  @Option(help: "The history generator, for generated histories.") var script = "Fixtures/make-history.py"
  @Option(help: "The bad end of the range.") var bad = "main"
  @Option(help: "The good end (default: the root commit of --bad).") var good: String?
  @Option(help: "Trials per history, setting and method.") var trials = 200
  @Option(help: "Seed of the culprits and of the wrong answers.") var seed: UInt64 = 1

  func validate() throws {
    if trials < 1 { throw ValidationError("--trials must be at least 1") }
    if commits < 3 { throw ValidationError("--commits must be at least 3") }
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

    print("Simulated flaky smoke test: \(trials) trials per row, seed \(seed); endpoints known, never tested.")
    print("accuracy: culprit exactly right; runs: test runs (deployments), mean / 90th percentile / max.")
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
    print("")
    print(String(format: "## %@: N = %d candidates (%d merges), log2 N = %.2f", label, count, merges, log2N))
    print("")
    print(
      String(
        format: "FlakyBisection first choice (init + next()): %.1f ms, median of 5", firstChoiceMilliseconds(graph)))
    print("")
    print("| setting | capacity (bits/test) | information limit log2 N / C | 2.5 log2 N |")
    print("| --- | ---: | ---: | ---: |")
    for setting in NoiseSetting.all {
      let capacity = channelCapacity(falseBad: setting.falseBad, falseGood: setting.falseGood)
      print(String(format: "| %@ | %.3f | %.1f | %.1f |", setting.name, capacity, log2N / capacity, 2.5 * log2N))
    }
    print("")
    print("| method | setting | accuracy | mean runs | p90 | max | stopped by budget |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    let started = ContinuousClock.now
    for method in Method.allCases {
      for (settingOffset, setting) in NoiseSetting.all.enumerated() {
        var right = 0
        var runs = [Int]()
        var budgetStops = 0
        for trial in 0..<trials {
          // The same culprits for every method and setting; the wrong answers drawn per row.
          var culpritDraw = SplitMix64(seed: mix(seed, history, 0, UInt64(trial)))
          let culprit = simulation.candidates[Int(culpritDraw.next() % UInt64(count))]
          var test = SimulatedTest(
            truth: simulation.truth(culprit: culprit), setting: setting,
            random: SplitMix64(
              seed: mix(seed, history, 1 + UInt64(settingOffset) * 8 + UInt64(method.rawValue), UInt64(trial))))
          let result = method.run(simulation, &test)
          if result.culprit == graph.ids[culprit] { right += 1 }
          if result.budgetSpent { budgetStops += 1 }
          runs.append(test.runs)
        }
        runs.sort()
        let mean = Double(runs.reduce(0, +)) / Double(runs.count)
        let p90 = runs[Swift.min(runs.count - 1, Int((Double(runs.count) * 0.9).rounded(.up)) - 1)]
        let stops = method.isFlaky ? String(budgetStops) : "-"
        print(
          String(
            format: "| %@ | %@ | %.1f%% | %.2f | %d | %d | %@ |", method.name, setting.name,
            100 * Double(right) / Double(trials), mean, p90, runs.last ?? 0, stops))
      }
    }
    print("")
    print(String(format: "(%.1f s for this history)", seconds(ContinuousClock.now - started)))
  }
}

/// The median time to build a `FlakyBisection` of `graph` and choose its first commit.
private func firstChoiceMilliseconds(_ graph: CommitGraph) -> Double {
  var times = [Double]()
  for _ in 0..<5 {
    let started = ContinuousClock.now
    let search = FlakyBisection(graph: graph)
    _ = search.next()
    times.append(seconds(ContinuousClock.now - started) * 1000)
  }
  return median(times)
}

/// A way of answering: how often the simulated test lies, each way.
private struct NoiseSetting {
  var name: String
  var falseBad: Double
  var falseGood: Double

  static let all = [
    NoiseSetting(name: "no noise", falseBad: 0, falseGood: 0),
    NoiseSetting(name: "5% false-bad", falseBad: 0.05, falseGood: 0),
    NoiseSetting(name: "10% false-bad", falseBad: 0.1, falseGood: 0),
    NoiseSetting(name: "5% both ways", falseBad: 0.05, falseGood: 0.05),
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

/// The simulated smoke test: the truth, flipped at the setting's rates; counts its runs.
private struct SimulatedTest {
  let truth: [Bool]
  let setting: NoiseSetting
  var random: SplitMix64
  private(set) var runs = 0

  init(truth: [Bool], setting: NoiseSetting, random: SplitMix64) {
    self.truth = truth
    self.setting = setting
    self.random = random
  }

  mutating func run(_ number: Int) -> Verdict {
    runs += 1
    let roll = random.nextUnit()
    if truth[number] { return roll < setting.falseGood ? .good : .bad }
    return roll < setting.falseBad ? .bad : .good
  }
}

/// What one trial of a method named, and whether it ran out of budget.
private struct TrialResult {
  var culprit: ObjectID?
  var budgetSpent = false
}

/// The engines compared.
private enum Method: Int, CaseIterable {
  case plain
  case plainConfirm
  case majorityOfThree
  case flakyKnownRates
  case flakyEstimatedRates

  var name: String {
    switch self {
    case .plain: "plain Bisection"
    case .plainConfirm: "plain + confirm"
    case .majorityOfThree: "Bisection, majority of 3"
    case .flakyKnownRates: "FlakyBisection, rates known"
    case .flakyEstimatedRates: "FlakyBisection, rates estimated"
    }
  }

  var isFlaky: Bool { self == .flakyKnownRates || self == .flakyEstimatedRates }

  func run(_ simulation: Simulation, _ test: inout SimulatedTest) -> TrialResult {
    let graph = simulation.graph
    switch self {
    case .plain:
      return TrialResult(culprit: Self.bisect(graph, repeats: 1, &test))
    case .majorityOfThree:
      return TrialResult(culprit: Self.bisect(graph, repeats: 3, &test))
    case .plainConfirm:
      // Bisect, then test the culprit (expect bad) and its parents in the range (expect good)
      // once more; when one disagrees, start over, at most three times in all.
      var culprit: ObjectID?
      for _ in 0..<3 {
        culprit = Self.bisect(graph, repeats: 1, &test)
        guard let found = culprit, let number = graph.number(of: found) else { break }
        var confirmed = test.run(number) == .bad
        for parent in graph.parents(of: number) where confirmed { confirmed = test.run(parent) == .good }
        if confirmed { break }
      }
      return TrialResult(culprit: culprit)
    case .flakyKnownRates, .flakyEstimatedRates:
      let rates =
        self == .flakyKnownRates
        ? NoiseRates(falseBad: test.setting.falseBad, falseGood: test.setting.falseGood) : NoiseRates()
      var search = FlakyBisection(graph: graph, settings: FlakySettings(rates: rates))
      while true {
        switch search.next() {
        case .test(let commit):
          search.record(test.run(graph.number(of: commit)!), for: commit)
        case .concluded(let conclusion):
          return TrialResult(culprit: conclusion.culprit.commit, budgetSpent: conclusion.reason == .budgetSpent)
        }
      }
    }
  }

  /// Plain bisection, trusting the majority of `repeats` runs per step.
  private static func bisect(_ graph: CommitGraph, repeats: Int, _ test: inout SimulatedTest) -> ObjectID? {
    var bisection = Bisection(graph: graph)
    while true {
      switch bisection.next() {
      case .test(let commit):
        let number = graph.number(of: commit)!
        var bad = 0
        for _ in 0..<repeats where test.run(number) == .bad { bad += 1 }
        bisection.record(2 * bad > repeats ? .bad : .good, for: commit)
      case .concluded(.culprit(let culprit)):
        return culprit
      case .concluded:
        return nil
      }
    }
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
