import History

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// How often the smoke test answers wrongly.
public struct NoiseRates: Sendable, Hashable {
  /// P(the test says bad | the commit is truly good); nil to estimate it from the verdicts.
  public var falseBad: Double?
  /// P(the test says good | the commit is truly bad); nil to estimate it from the verdicts.
  public var falseGood: Double?

  public init(falseBad: Double? = nil, falseGood: Double? = nil) {
    self.falseBad = falseBad
    self.falseGood = falseGood
  }
}

/// How a probabilistic bisection weighs answers and when it stops.
public struct FlakySettings: Sendable, Hashable {
  /// The rates of wrong answers, configured or (nil) estimated.
  public var rates: NoiseRates
  /// Conclude once the most probable culprit has at least this probability.
  public var confidence: Double
  /// The most test runs (good and bad verdicts, wherever recorded); nil for
  /// `FlakySettings.defaultBudget(candidates:)`.
  public var budget: Int?

  public init(rates: NoiseRates = NoiseRates(), confidence: Double = 0.99, budget: Int? = nil) {
    self.rates = rates
    self.confidence = confidence
    self.budget = budget
  }

  /// The budget used when none is set, for a range of `candidates` possible culprits:
  /// `ceil(4 * log2 N) + 10` test runs (50 for N = 1000, 14 for N = 2): about three times the
  /// mean of a search with one answer in ten wrong, above the longest seen in simulation.
  public static func defaultBudget(candidates: Int) -> Int {
    guard candidates > 1 else { return 10 }
    return Int((4 * log2(Double(candidates))).rounded(.up)) + 10
  }
}

/// A commit that may have caused the regression, with the probability that it did.
public struct RankedCulprit: Sendable, Hashable {
  public var commit: ObjectID
  public var probability: Double

  public init(commit: ObjectID, probability: Double) {
    self.commit = commit
    self.probability = probability
  }
}

/// How a probabilistic bisection ended.
public struct FlakyConclusion: Sendable, Hashable {
  /// Why the search stopped.
  public enum Reason: String, Sendable, Hashable {
    /// The most probable culprit reached the configured confidence.
    case confident
    /// The budget of test runs is spent; the culprit is the best guess.
    case budgetSpent = "budget-spent"
    /// Every commit whose test could still tell the candidates apart was skipped (or there is
    /// no candidate at all); the culprit is the best guess.
    case nothingTestable = "nothing-testable"
  }

  /// The most probable culprit.
  public var culprit: RankedCulprit
  /// The second most probable culprit; nil when the range has only one candidate.
  public var runnerUp: RankedCulprit?
  public var reason: Reason
  /// The good and bad verdicts recorded.
  public var testRuns: Int

  public init(culprit: RankedCulprit, runnerUp: RankedCulprit?, reason: Reason, testRuns: Int) {
    self.culprit = culprit
    self.runnerUp = runnerUp
    self.reason = reason
    self.testRuns = testRuns
  }
}

/// What to do next in a probabilistic bisection.
public enum FlakyOutcome: Sendable, Hashable {
  /// Deploy and test this commit (it may have been tested before), then record the verdict.
  case test(ObjectID)
  /// Nothing more to test.
  case concluded(FlakyConclusion)
}

/// A bisection for smoke tests that sometimes answer wrongly: a Bayesian search over which
/// candidate is the culprit. A plain value: no I/O, no randomness, safe to copy and to send
/// across tasks; the same graph, settings and verdicts in the same order give the same answers.
///
/// The culprit is one of the graph's candidates (`graph.isCandidate`), each equally likely at
/// first; a commit is truly bad when the culprit is among its ancestors-or-self. Each verdict
/// reweighs every candidate by how likely that verdict was if it were the culprit (Bayes' rule),
/// so no single answer rules a candidate out. The next commit to test is the one whose answer is
/// expected to tell most about the culprit (mutual information); a commit may be tested again.
/// The search concludes when one candidate is probable enough, when the budget of test runs is
/// spent, or when nothing left to test can tell the candidates apart.
///
/// Rates left nil are unknown and integrated out under a Beta(1, 15) prior each (mean 1/16):
/// every candidate is weighed by the Beta–binomial probability of the wrong answers it implies.
/// Verdicts on commits outside the graph (the good side, truly good) and on the tip (truly bad)
/// say nothing about which candidate is the culprit, but they are answers whose truth is known,
/// so they inform the rates.
///
/// Each `record` costs O(commits + edges) of the graph; `next()` about the same (one walk of the
/// first-parent chain, plus short walks of the side branches that could hold the best commit).
public struct FlakyBisection: Sendable {
  /// The range searched: `graph.tip` is bad, `graph.boundaries` are good.
  public let graph: CommitGraph
  public let settings: FlakySettings
  /// The most test runs: `settings.budget`, or the default for the range.
  public let budget: Int
  /// Every verdict recorded, in order; replaying them into a new `FlakyBisection` of the same
  /// graph and settings gives the same state.
  public private(set) var verdicts: [RecordedVerdict] = []

  /// Commit numbers of the candidates, ascending (children first).
  private let candidates: [Int]
  private let candidateFlags: CommitSet
  /// Per candidate: bad and good verdicts on its descendants-or-self (those it makes truly bad).
  private var badAbove: [Int32]
  private var goodAbove: [Int32]
  /// All bad and good verdicts, wherever recorded.
  private var badCount = 0
  private var goodCount = 0
  private var skipped: CommitSet
  private var falseBadBelief: RateBelief
  private var falseGoodBelief: RateBelief
  /// Per candidate: the probability that it is the culprit.
  private var posterior: [Double]
  private var currentRates: (falseBad: Double, falseGood: Double)

  /// Starts a search of `graph`'s candidates.
  public init(graph: CommitGraph, settings: FlakySettings = FlakySettings()) {
    self.graph = graph
    self.settings = settings
    let flags = CommitSet(flags: graph.isCandidate)
    candidateFlags = flags
    candidates = flags.members
    budget = settings.budget ?? FlakySettings.defaultBudget(candidates: candidates.count)
    badAbove = [Int32](repeating: 0, count: candidates.count)
    goodAbove = [Int32](repeating: 0, count: candidates.count)
    skipped = CommitSet(capacity: graph.count)
    falseBadBelief = RateBelief(configured: settings.rates.falseBad)
    falseGoodBelief = RateBelief(configured: settings.rates.falseGood)
    posterior = [Double](repeating: 1 / Double(Swift.max(1, candidates.count)), count: candidates.count)
    currentRates = (
      falseBadBelief.rate(wrong: 0, of: 0).clampedRate, falseGoodBelief.rate(wrong: 0, of: 0).clampedRate
    )
  }

  // MARK: Recording verdicts

  /// Records the verdict on `commit`, which may lie outside the graph.
  ///
  /// Good and bad reweigh the candidates (outside the graph and at the tip, where the truth is
  /// known, they only inform the rates); skip means `commit` is never chosen again.
  public mutating func record(_ verdict: Verdict, for commit: ObjectID) {
    verdicts.append(RecordedVerdict(commit: commit, verdict: verdict))
    let number = graph.number(of: commit)
    switch verdict {
    case .skip:
      if let number { skipped.insert(number) }
      return
    case .bad: badCount += 1
    case .good: goodCount += 1
    }
    if let number {
      // Candidates among the ancestors-or-self of `commit` are those that make it truly bad.
      let ancestors = graph.ancestorSet(of: number).intersection(candidateFlags)
      var slot = 0
      for member in ancestors {
        while candidates[slot] < member { slot += 1 }
        if verdict == .bad { badAbove[slot] += 1 } else { goodAbove[slot] += 1 }
      }
    }
    updatePosterior()
  }

  /// Recomputes every candidate's probability from the verdict counts: O(candidates).
  private mutating func updatePosterior() {
    let answers = badCount + goodCount
    falseBadBelief.reserve(answers)
    falseGoodBelief.reserve(answers)
    guard !candidates.isEmpty else { return }
    var logWeights = [Double](repeating: 0, count: candidates.count)
    var largest = -Double.infinity
    for slot in candidates.indices {
      let bad = Int(badAbove[slot])
      let good = Int(goodAbove[slot])
      // If this candidate is the culprit, `bad + good` answers were on truly bad commits (the
      // good ones wrong) and the rest on truly good commits (the bad ones wrong).
      let value =
        falseGoodBelief.logLikelihood(wrong: good, of: bad + good)
        + falseBadBelief.logLikelihood(wrong: badCount - bad, of: answers - bad - good)
      logWeights[slot] = value
      largest = Swift.max(largest, value)
    }
    var sum = 0.0
    for slot in logWeights.indices {
      let weight = exp(logWeights[slot] - largest)
      logWeights[slot] = weight
      sum += weight
    }
    var falseBad = 0.0
    var falseGood = 0.0
    for slot in logWeights.indices {
      let probability = logWeights[slot] / sum
      posterior[slot] = probability
      let bad = Int(badAbove[slot])
      let good = Int(goodAbove[slot])
      falseBad += probability * falseBadBelief.rate(wrong: badCount - bad, of: answers - bad - good)
      falseGood += probability * falseGoodBelief.rate(wrong: good, of: bad + good)
    }
    currentRates = (
      falseBadBelief.fixed ?? falseBad.clampedRate, falseGoodBelief.fixed ?? falseGood.clampedRate
    )
  }

  // MARK: What next

  /// The next commit to test, or the conclusion.
  public func next() -> FlakyOutcome {
    if let conclusion = stoppingConclusion() { return .concluded(conclusion) }
    if let first = choose(count: 1).first { return .test(graph.ids[first]) }
    return .concluded(conclusion(.nothingTestable))
  }

  /// Up to `count` distinct commits to test at once (in several environments), or none when
  /// the search has concluded (see `next()`). One commit is `next()`'s choice; more are the
  /// commits whose ancestor mass lies nearest to `j / (count + 1)`, `j = 1...count`, so that
  /// their answers split the probability into `count + 1` parts. Never more than the budget has
  /// left. Record every verdict of a round, in any order, before asking again.
  public func nextRound(count: Int) -> [ObjectID] {
    guard stoppingConclusion() == nil else { return [] }
    let width = Swift.min(Swift.max(1, count), budget - testRuns)
    return choose(count: width).map { graph.ids[$0] }
  }

  /// The `count` most probable culprits, most probable first (ties: the younger first).
  public func leaders(_ count: Int) -> [RankedCulprit] {
    let order = candidates.indices.sorted {
      posterior[$0] != posterior[$1] ? posterior[$0] > posterior[$1] : $0 < $1
    }
    return order.prefix(Swift.max(0, count)).map {
      RankedCulprit(commit: graph.ids[candidates[$0]], probability: posterior[$0])
    }
  }

  /// The probability that `commit` is the culprit; 0 for commits that are not candidates.
  public func probability(of commit: ObjectID) -> Double {
    guard let number = graph.number(of: commit), candidateFlags.contains(number) else { return 0 }
    // `candidates` is ascending: find the slot by halving.
    var low = 0
    var high = candidates.count
    while low < high {
      let middle = (low + high) / 2
      if candidates[middle] < number { low = middle + 1 } else { high = middle }
    }
    return posterior[low]
  }

  /// The good and bad verdicts recorded, wherever (skips do not count).
  public var testRuns: Int { badCount + goodCount }

  /// The rates of wrong answers in use now: the configured ones (floored at 0.001, capped at
  /// 0.49) or the current estimates (posterior means).
  public var rates: (falseBad: Double, falseGood: Double) { currentRates }

  /// The number of commits that may be the culprit.
  public var candidateCount: Int { candidates.count }

  // MARK: Inside

  /// The conclusion when confident or out of budget; nil while the search goes on.
  private func stoppingConclusion() -> FlakyConclusion? {
    guard let top = topTwo().first else { return conclusion(.nothingTestable) }
    if posterior[top] >= settings.confidence { return conclusion(.confident) }
    if testRuns >= budget { return conclusion(.budgetSpent) }
    return nil
  }

  private func conclusion(_ reason: FlakyConclusion.Reason) -> FlakyConclusion {
    let top = topTwo()
    func ranked(_ slot: Int) -> RankedCulprit {
      RankedCulprit(commit: graph.ids[candidates[slot]], probability: posterior[slot])
    }
    // No candidate at all (an empty range): the tip, with probability 0.
    let culprit = top.first.map(ranked) ?? RankedCulprit(commit: graph.tip, probability: 0)
    return FlakyConclusion(
      culprit: culprit, runnerUp: top.count > 1 ? ranked(top[1]) : nil, reason: reason, testRuns: testRuns)
  }

  /// The slots of the two most probable candidates (ties: the younger first).
  private func topTwo() -> [Int] {
    var first: Int?
    var second: Int?
    for slot in posterior.indices {
      if first == nil || posterior[slot] > posterior[first!] {
        second = first
        first = slot
      } else if second == nil || posterior[slot] > posterior[second!] {
        second = slot
      }
    }
    return [first, second].compactMap { $0 }
  }

  /// Answers worth less than this many bits are not worth a deployment.
  static let leastInformation = 1e-9

  /// The commit numbers to test next: `count == 1`, the most informative; more, the commits
  /// nearest to the quantiles of the ancestor mass.
  private func choose(count: Int) -> [Int] {
    guard count > 0, candidates.count > 1 else { return [] }
    var weight = [Double](repeating: 0, count: graph.count)
    for (slot, number) in candidates.enumerated() { weight[number] = posterior[slot] }
    let index = ReachIndex(graph: graph, weight: weight)
    let channel = TestChannel(falseBad: currentRates.falseBad, falseGood: currentRates.falseGood)
    let total = index.total
    let goals: [MassGoal]
    if count == 1 {
      goals = [
        MassGoal(
          score: { -channel.information($0 / total) },
          bestScore: { -channel.mostInformation(in: ($0.lowerBound / total)...($0.upperBound / total)) })
      ]
    } else {
      goals = (1...count).map { j in
        let target = total * Double(j) / Double(count + 1)
        return MassGoal(
          score: { abs($0 - target) },
          bestScore: { $0.contains(target) ? 0 : Swift.min(abs($0.lowerBound - target), abs($0.upperBound - target)) })
      }
    }
    let least = Self.leastInformation
    let picks = index.choose(
      goals: goals, testable: candidateFlags.subtracting(skipped),
      isInformative: { channel.information($0 / total) > least },
      mayBeInformative: { channel.mostInformation(in: ($0.lowerBound / total)...($0.upperBound / total)) > least },
      workBudget: Bisection.workBudget(graph.count))
    return picks.map(\.number)
  }
}

extension Double {
  /// A rate kept where the likelihoods stay meaningful.
  fileprivate var clampedRate: Double { Swift.min(RateBelief.cap, Swift.max(RateBelief.floor, self)) }
}
