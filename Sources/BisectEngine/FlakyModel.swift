#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

// The arithmetic of the probabilistic mode: what a failure rate may be, how likely the answers
// are under each hypothesis, and what a test is expected to teach. Only `log`, `exp`, `log1p`
// and `log2` come from the C library.

/// The failure rates one kind of commit may have, each with its prior weight: a grid, so that
/// the rates are integrated out exactly (a sum) whatever shape the prior has.
struct RateGrid: Sendable {
  /// Ascending.
  let values: [Double]
  /// Normalised: the weights sum to 1.
  let logPrior: [Double]
  let logRate: [Double]
  let logComplement: [Double]

  /// A grid of `(rate, weight)` pairs; weights need not sum to 1.
  init(_ weighted: [(rate: Double, weight: Double)]) {
    let sorted = weighted.sorted { $0.rate < $1.rate }
    let total = sorted.reduce(0) { $0 + $1.weight }
    values = sorted.map(\.rate)
    logPrior = sorted.map { log($0.weight / total) }
    logRate = values.map { log($0) }
    logComplement = values.map { log1p(-$0) }
  }

  /// The log of prior weight times the probability of `fails` failures and `passes` passes in
  /// a given order, per rate.
  func logTerms(fails: Int, passes: Int) -> [Double] {
    values.indices.map { logPrior[$0] + Double(fails) * logRate[$0] + Double(passes) * logComplement[$0] }
  }

  /// The rate believed after `fails` failures and `passes` passes (the posterior mean), and
  /// the log of the answers' probability with the rate integrated out.
  func posterior(fails: Int, passes: Int) -> (logLikelihood: Double, mean: Double) {
    let terms = logTerms(fails: fails, passes: passes)
    let top = terms.max() ?? 0
    var sum = 0.0
    var weighted = 0.0
    for (index, term) in terms.enumerated() {
      let weight = exp(term - top)
      sum += weight
      weighted += weight * values[index]
    }
    return (top + log(sum), weighted / sum)
  }
}

/// `log(exp(a) + exp(b))` without overflow; `-infinity` is the empty sum.
@inline(__always) func logAdd(_ a: Double, _ b: Double) -> Double {
  if a == -.infinity { return b }
  if b == -.infinity { return a }
  return a > b ? a + log1p(exp(b - a)) : b + log1p(exp(a - b))
}

/// What "bad" means for a flaky test: a commit at or after the culprit fails a share `bad` of
/// its runs, one before it a share `good`, with `bad >= good + gap`; neither is known. Or there
/// is no regression at all and every commit fails the same share `same` of its runs.
///
/// The priors (docs/flaky.md): `good` among 13 rates from 0.1% to 30%, 0.1% weighing 0.5 and
/// the others sharing the rest; `bad` among 20 rates from 20% to 99.9%, 99.9% weighing 0.8,
/// the others sharing the rest; so that a clean test (bad always fails, good never) is
/// believed after a few answers, and a regression that fails one run in five is still one.
/// `same` is uniform over every rate of both grids.
struct ChangeModel: Sendable {
  let good: RateGrid
  let bad: RateGrid
  let same: RateGrid
  /// Per bad rate: how many of the good rates (a prefix) may go with it.
  private let allowed: [Int]
  /// The log of the prior weight of the allowed pairs, so that they sum to 1.
  private let logNormaliser: Double

  /// The smallest difference between the failure rates of bad and good commits when neither
  /// is configured: a regression is a change of at least this much.
  static let gap = 0.1

  /// The prior weight of the cleanest rates: a good commit fails 0.1% of its runs, a bad one
  /// 99.9%. Most regressions fail every run; the rest share what is left.
  static let cleanGood = 0.3
  static let cleanBad = 0.5
  static let defaultGood: [(rate: Double, weight: Double)] =
    [(0.001, cleanGood)]
    + [0.005, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3].map { ($0, (1 - cleanGood) / 12) }
  static let defaultBad: [(rate: Double, weight: Double)] =
    [(0.999, cleanBad)]
    + [0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.98, 0.995].map {
      ($0, (1 - cleanBad) / 18)
    }

  /// The model with the rates the user configured (`good`: how often a good commit's test
  /// fails; `bad`: how often a bad commit's does), each nil to infer it.
  init(good configuredGood: Double?, bad configuredBad: Double?) {
    let goodRate = configuredGood.map { Swift.min(0.49, Swift.max(0.001, $0.isNaN ? 0.001 : $0)) }
    var badRate = configuredBad.map { Swift.min(0.999, Swift.max(0.2, $0.isNaN ? 0.999 : $0)) }
    // Bad must fail more often than good, or "bad" means nothing.
    if let goodRate, let rate = badRate, rate <= goodRate { badRate = Swift.min(0.999, goodRate + Self.gap) }
    good = RateGrid(goodRate.map { [($0, 1)] } ?? Self.defaultGood)
    bad = RateGrid(badRate.map { [($0, 1)] } ?? Self.defaultBad)
    let all = Set(Self.defaultGood.map(\.rate) + Self.defaultBad.map(\.rate)).sorted()
    same = RateGrid(all.map { ($0, 1) })
    let gap = configuredGood != nil || configuredBad != nil ? 1e-9 : Self.gap
    let good = good
    allowed = bad.values.map { rate in good.values.prefix { $0 <= rate - gap }.count }
    var normaliser = -Double.infinity
    var goodPrefix = [-Double.infinity]
    for term in good.logPrior { goodPrefix.append(logAdd(goodPrefix[goodPrefix.count - 1], term)) }
    for (index, term) in bad.logPrior.enumerated() {
      normaliser = logAdd(normaliser, term + goodPrefix[allowed[index]])
    }
    logNormaliser = normaliser
  }

  /// What one culprit makes of the answers: `badFails` and `badPasses` on commits it makes bad,
  /// `goodFails` and `goodPasses` on the others. The log-probability of the answers with both
  /// rates integrated out, and the rates' posterior means.
  func culprit(badFails: Int, badPasses: Int, goodFails: Int, goodPasses: Int) -> CulpritFit {
    // Prefix sums over the good rates, in logs, with the running mean of the rate.
    var prefixLog = [Double](repeating: -.infinity, count: good.values.count + 1)
    var prefixMean = [Double](repeating: 0, count: good.values.count + 1)
    for index in good.values.indices {
      let term =
        good.logPrior[index] + Double(goodFails) * good.logRate[index] + Double(goodPasses)
        * good.logComplement[index]
      let before = prefixLog[index]
      let after = logAdd(before, term)
      prefixLog[index + 1] = after
      prefixMean[index + 1] =
        after == -.infinity
        ? 0 : prefixMean[index] * exp(before - after) + good.values[index] * exp(term - after)
    }
    var logTotal = -Double.infinity
    var terms = [Double](repeating: -.infinity, count: bad.values.count)
    for index in bad.values.indices where allowed[index] > 0 {
      terms[index] =
        bad.logPrior[index] + Double(badFails) * bad.logRate[index] + Double(badPasses)
        * bad.logComplement[index] + prefixLog[allowed[index]]
      logTotal = logAdd(logTotal, terms[index])
    }
    guard logTotal > -.infinity else { return CulpritFit(logLikelihood: -.infinity, good: 0, bad: 1) }
    var meanGood = 0.0
    var meanBad = 0.0
    for index in bad.values.indices where terms[index] > -.infinity {
      let share = exp(terms[index] - logTotal)
      meanGood += share * prefixMean[allowed[index]]
      meanBad += share * bad.values[index]
    }
    return CulpritFit(logLikelihood: logTotal - logNormaliser, good: meanGood, bad: meanBad)
  }
}

/// A culprit's fit to the answers: see `ChangeModel.culprit`.
struct CulpritFit: Sendable {
  var logLikelihood: Double
  /// The posterior mean failure rate of the commits before the culprit.
  var good: Double
  /// The posterior mean failure rate of the culprit and the commits after it.
  var bad: Double
}

/// The binary entropy in bits.
func binaryEntropy(_ p: Double) -> Double {
  guard p > 0, p < 1 else { return 0 }
  return -(p * log2(p) + (1 - p) * log2(1 - p))
}

/// The test as a channel from what a commit is to what its runs say, with the failure rates
/// as now believed: a commit is truly bad (fails `bad` of its runs), truly good (`good`), or
/// there is no regression (everything fails `same`, with probability `none`).
struct TestChannel: Sendable {
  let good: Double
  let bad: Double
  let same: Double
  /// The probability of "no regression".
  let none: Double
  let costs: RunCosts
  /// The numbers of runs a deploy is weighed with.
  static let runCounts = [1, 2, 3, 4, 6, 8, 12, 16, 24]
  /// `deployRate` at `tableSize` masses evenly spaced over `0...(1 - none)`.
  private var table: [Double] = []
  private static let tableSize = 129

  init(good: Double, bad: Double, same: Double, none: Double, costs: RunCosts) {
    self.good = good
    self.bad = bad
    self.same = same
    self.none = Swift.min(1, Swift.max(0, none))
    self.costs = costs
    let counts = costs.deploy > 0 ? Self.runCounts : [1]
    let top = 1 - self.none
    table = (0..<Self.tableSize).map { step in
      let mass = top * Double(step) / Double(Self.tableSize - 1)
      var best = 0.0
      for runs in counts {
        best = Swift.max(best, information(mass, runs: runs) / (costs.deploy + Double(runs) * costs.test))
      }
      return best
    }
  }

  /// The mutual information, in bits, between the hypotheses and `runs` answers of a commit
  /// that is truly bad with probability `mass` (the posterior mass of the culprits among its
  /// ancestors-or-self; `1 - none - mass` is then that of "truly good").
  func information(_ mass: Double, runs: Int = 1) -> Double {
    let bad = Swift.min(1 - none, Swift.max(0, mass))
    let good = Swift.max(0, 1 - none - bad)
    let weights = (bad, good, none)
    var conditional =
      weights.0 * binaryEntropy(self.bad) + weights.1 * binaryEntropy(self.good) + weights.2 * binaryEntropy(same)
    conditional *= Double(runs)
    // The entropy of the answers: the sequences with k failures are equally likely.
    var entropy = 0.0
    var choose = 1.0
    for fails in 0...runs {
      func term(_ weight: Double, _ rate: Double) -> Double {
        weight > 0 ? weight * pow(rate, Double(fails)) * pow(1 - rate, Double(runs - fails)) : 0
      }
      let probability = term(weights.0, self.bad) + term(weights.1, self.good) + term(weights.2, same)
      if probability > 0 { entropy -= choose * probability * log2(probability) }
      choose = choose * Double(runs - fails) / Double(fails + 1)
    }
    return Swift.max(0, entropy - conditional)
  }

  /// Whether a commit whose mass lies in `range` may teach anything: information is concave
  /// in the mass and zero only where "truly bad" is certain either way, so any range with
  /// room inside `0...(1 - none)` may; a range at one end may when that end does.
  func mayInform(_ range: ClosedRange<Double>) -> Bool {
    let top = 1 - none
    return !(range.upperBound <= 0 || range.lowerBound >= top) || information(range.lowerBound) > 0
  }

  /// Bits per unit of cost of deploying a commit of mass `mass` and running its test as many
  /// times as pays best (one of `runCounts`): the table, interpolated.
  func deployRate(_ mass: Double) -> Double {
    let top = 1 - none
    guard top > 0 else { return 0 }
    let position = Swift.min(1, Swift.max(0, mass / top)) * Double(Self.tableSize - 1)
    let lower = Swift.min(Self.tableSize - 2, Int(position))
    let fraction = position - Double(lower)
    return table[lower] + (table[lower + 1] - table[lower]) * fraction
  }

  /// The best `deployRate` any mass in `range` can give: the interpolation is piecewise
  /// linear, so its top lies at a table point inside the range or at an end.
  func bestDeployRate(in range: ClosedRange<Double>) -> Double {
    let top = 1 - none
    guard top > 0 else { return 0 }
    var best = Swift.max(deployRate(range.lowerBound), deployRate(range.upperBound))
    let scale = Double(Self.tableSize - 1) / top
    let first = Swift.max(0, Int((range.lowerBound * scale).rounded(.up)))
    let last = Swift.min(Self.tableSize - 1, Int((range.upperBound * scale).rounded(.down)))
    if first <= last { for step in first...last { best = Swift.max(best, table[step]) } }
    return best
  }
}

/// What the next actions cost, in any one unit (seconds, say): deploying a commit to an
/// environment, and running the test once where a commit is deployed.
public struct RunCosts: Sendable, Hashable {
  public var deploy: Double
  public var test: Double

  /// Costs as given, kept positive (a test costs at least a millionth, a deploy nothing or more).
  public init(deploy: Double, test: Double) {
    self.deploy = deploy.isFinite ? Swift.max(0, deploy) : 0
    self.test = test.isFinite ? Swift.max(1e-6, test) : 1
  }

  /// Every run deploys anew: the search weighs test runs only.
  public static let testsOnly = RunCosts(deploy: 0, test: 1)
}
