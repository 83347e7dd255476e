#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

// The arithmetic of the probabilistic mode: how wrong answers are weighed, and what a test is
// expected to teach. Only `log`, `exp` and `log2` come from the C library.

/// What the engine believes about one kind of wrong answer (false bad, or false good).
///
/// A configured rate is used as given, floored and capped. An unknown rate gets a Beta prior
/// and is integrated out: the likelihood of the verdicts for a culprit is the Beta–binomial
/// probability of the wrong answers that culprit implies, so the rate and the culprit are
/// inferred together and no point estimate can run away.
struct RateBelief: Sendable {
  /// Configured rates are kept inside `floor...cap`: never zero, so one wrong answer cannot
  /// rule out the true culprit, and below one half, where "bad" would stop meaning bad.
  static let floor = 0.001
  static let cap = 0.49
  /// The prior of an unknown rate: Beta(1, 15), mean 1/16, weighing as much as 16 answers.
  static let priorWrong = 1.0
  static let priorRight = 15.0

  /// The configured rate, floored and capped; nil when it is estimated.
  let fixed: Double?
  private let logRate: Double
  private let logComplement: Double
  // For the Beta–binomial: sums of log(x + j) for j < i, for x = a, b and a + b, grown as
  // verdicts arrive. `log B(a + k, b + n - k) - log B(a, b)` is then three lookups.
  private var sumsWrong: [Double] = [0]
  private var sumsRight: [Double] = [0]
  private var sumsBoth: [Double] = [0]

  init(configured rate: Double?) {
    fixed = rate.map { Swift.min(Self.cap, Swift.max(Self.floor, $0.isNaN ? Self.floor : $0)) }
    logRate = fixed.map { log($0) } ?? 0
    logComplement = fixed.map { log(1 - $0) } ?? 0
  }

  /// Makes room for likelihoods of up to `count` answers.
  mutating func reserve(_ count: Int) {
    guard fixed == nil else { return }
    while sumsBoth.count <= count {
      let j = Double(sumsBoth.count - 1)
      sumsWrong.append(sumsWrong[sumsWrong.count - 1] + log(Self.priorWrong + j))
      sumsRight.append(sumsRight[sumsRight.count - 1] + log(Self.priorRight + j))
      sumsBoth.append(sumsBoth[sumsBoth.count - 1] + log(Self.priorWrong + Self.priorRight + j))
    }
  }

  /// The log-probability of `wrong` given answers being wrong (in a given order) among `total`.
  /// Needs `reserve(total)` first.
  func logLikelihood(wrong: Int, of total: Int) -> Double {
    if fixed != nil { return Double(wrong) * logRate + Double(total - wrong) * logComplement }
    return sumsWrong[wrong] + sumsRight[total - wrong] - sumsBoth[total]
  }

  /// The rate believed after seeing `wrong` wrong answers among `total`: the configured one, or
  /// the posterior mean.
  func rate(wrong: Int, of total: Int) -> Double {
    fixed ?? (Self.priorWrong + Double(wrong)) / (Self.priorWrong + Self.priorRight + Double(total))
  }
}

/// The binary entropy in bits.
func binaryEntropy(_ p: Double) -> Double {
  guard p > 0, p < 1 else { return 0 }
  return -(p * log2(p) + (1 - p) * log2(1 - p))
}

/// The noisy test as a channel from "truly bad" to "says bad".
struct TestChannel: Sendable {
  /// P(says bad | truly good).
  let falseBad: Double
  /// P(says good | truly bad).
  let falseGood: Double
  private let entropyGood: Double
  private let entropyBad: Double
  /// The probability of "truly bad" that the most informative test has.
  private(set) var bestMass: Double

  init(falseBad: Double, falseGood: Double) {
    self.falseBad = falseBad
    self.falseGood = falseGood
    entropyGood = binaryEntropy(falseBad)
    entropyBad = binaryEntropy(falseGood)
    bestMass = 0.5
    // `information` is concave in the mass: a golden-section search finds its top.
    var low = 0.0
    var high = 1.0
    let ratio = (5.0.squareRoot() - 1) / 2
    for _ in 0..<80 {
      let left = high - ratio * (high - low)
      let right = low + ratio * (high - low)
      if information(left) < information(right) { low = left } else { high = right }
    }
    bestMass = (low + high) / 2
  }

  /// The mutual information, in bits, between the culprit and the answer of a test on a commit
  /// that is truly bad with probability `mass` (the posterior mass among its ancestors-or-self).
  func information(_ mass: Double) -> Double {
    let p = Swift.min(1, Swift.max(0, mass))
    let value =
      binaryEntropy(p * (1 - falseGood) + (1 - p) * falseBad) - p * entropyBad - (1 - p) * entropyGood
    return Swift.max(0, value)
  }

  /// The most information any mass in `range` can give (the function is concave).
  func mostInformation(in range: ClosedRange<Double>) -> Double {
    information(Swift.min(range.upperBound, Swift.max(range.lowerBound, bestMass)))
  }
}
