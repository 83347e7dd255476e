import History

/// A commit whose exact ancestor mass is known, as the choice ranks it.
struct MassScoredCommit {
  var number: Int
  var mass: Double
  var isOnChain: Bool
}

/// What a choice aims for: each slot scores a mass (lower is better) and bounds that score over
/// a range of masses, so that side commits whose bounds cannot win are never walked.
struct MassGoal {
  var score: (Double) -> Double
  /// The lowest score any mass in the range can get.
  var bestScore: (ClosedRange<Double>) -> Double
}

/// The posterior mass among the ancestors-or-self of commits ("ancestor mass": the probability
/// that a commit is truly bad): the reach of `ReachIndex` with the posterior probability of
/// each commit as its weight, over the whole graph.
extension ReachIndex<[Double]> {
  /// The mass index of `graph` for `weight`, the posterior probability by commit number (0
  /// for commits that may not be blamed).
  init(graph: CommitGraph, weight: [Double]) {
    self.init(graph: graph, remaining: CommitSet(capacity: graph.count, full: true), weights: weight)
  }

  /// Sums in different orders differ in the last bits; bounds are widened by this much.
  static var slack: Double { 1e-12 }

  /// Bounds on the mass of a commit off the chain, without walking (`reachBounds(of:)`),
  /// widened by `slack`.
  func massBounds(of number: Int) -> ClosedRange<Double> {
    let bounds = reachBounds(of: number)
    return Swift.max(0, bounds.lowerBound - Self.slack)...(bounds.upperBound + Self.slack)
  }

  /// Up to `goals.count` distinct commits of `testable`, the best for each goal in turn, among
  /// those whose mass passes `isInformative` (and whose bounds might: `mayBeInformative`).
  ///
  /// Near-equal scores (within a relative 1e-12, the rounding of the mass sums) are ties, which
  /// go to first-parent commits, then to the younger. Walks of side commits stop once they have
  /// visited `workBudget` commits; below that the result is exact.
  func choose(
    goals: [MassGoal], testable: CommitSet, isInformative: (Double) -> Bool,
    mayBeInformative: (ClosedRange<Double>) -> Bool, workBudget: Int
  ) -> [MassScoredCommit] {
    guard !goals.isEmpty else { return [] }
    let width = goals.count
    var scored = [MassScoredCommit]()
    // The `width` best scores so far for each goal, ascending.
    var nearest = [[Double]](repeating: [], count: width)
    func threshold(_ slot: Int) -> Double {
      nearest[slot].count < width ? .infinity : nearest[slot][width - 1]
    }
    func note(_ commit: MassScoredCommit) {
      guard isInformative(commit.mass) else { return }
      scored.append(commit)
      for slot in 0..<width {
        let value = goals[slot].score(commit.mass)
        guard value <= threshold(slot) else { continue }
        let place = nearest[slot].firstIndex { $0 > value } ?? nearest[slot].count
        nearest[slot].insert(value, at: place)
        if nearest[slot].count > width { nearest[slot].removeLast() }
      }
    }

    for (position, number) in chain.enumerated() where testable.contains(number) {
      note(MassScoredCommit(number: number, mass: chainReach[position], isOnChain: true))
    }

    var side = [(key: Double, number: Int, bounds: ClosedRange<Double>)]()
    for number in testable where chainPosition[number] < 0 {
      let bounds = massBounds(of: number)
      guard mayBeInformative(bounds) else { continue }
      let key = goals.lazy.map { $0.bestScore(bounds) }.min() ?? 0
      side.append((key, number, bounds))
    }
    side.sort { ($0.key, $0.number) < ($1.key, $1.number) }
    var walker = ReachWalker(count: graph.count)
    for entry in side {
      if walker.visited > workBudget { break }
      let widest = (0..<width).lazy.map { threshold($0) }.max() ?? .infinity
      if entry.key > widest + Self.tolerance(widest) { break }
      guard
        (0..<width).contains(where: {
          goals[$0].bestScore(entry.bounds) <= threshold($0) + Self.tolerance(threshold($0))
        })
      else { continue }
      note(MassScoredCommit(number: entry.number, mass: walker.reach(of: entry.number, in: self), isOnChain: false))
    }

    // First-parent commits first, then the younger: the order that wins near-ties.
    scored.sort { ($0.isOnChain ? 0 : 1, $0.number) < ($1.isOnChain ? 0 : 1, $1.number) }
    var chosen = [MassScoredCommit]()
    var taken = Set<Int>()
    for goal in goals {
      var best: (commit: MassScoredCommit, value: Double)?
      for commit in scored where !taken.contains(commit.number) {
        let value = goal.score(commit.mass)
        if let current = best, value >= current.value - Self.tolerance(current.value) { continue }
        best = (commit, value)
      }
      guard let best else { break }
      chosen.append(best.commit)
      taken.insert(best.commit.number)
    }
    return chosen
  }

  static func tolerance(_ value: Double) -> Double {
    value.isFinite ? 1e-12 * Swift.max(1, abs(value)) : 0
  }
}
