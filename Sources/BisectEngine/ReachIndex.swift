import History

/// What `ReachIndex` sums over the ancestors-or-self of a commit: a weight per commit.
protocol ReachWeights {
  associatedtype Value: AdditiveArithmetic & Comparable
  /// The weight of commit `number`.
  func weight(of number: Int) -> Value
}

/// A set weighs 1 per member: its reach counts the members among a commit's ancestors.
extension CommitSet: ReachWeights {
  // The membership bit itself, inlined: the index's walks call this for every commit.
  @inline(__always) func weight(of number: Int) -> Int {
    Int(truncatingIfNeeded: words[number >> 6] >> UInt64(number & 63) & 1)
  }
}

/// Weights by commit number: its reach sums them (the posterior mass, for `FlakyBisection`).
extension [Double]: ReachWeights {
  func weight(of number: Int) -> Double { self[number] }
}

/// Exact reach over the commits still in play, built in O(commits + edges).
///
/// The reach of a commit is the weight of its ancestors, itself included. Counting candidates
/// (possible culprits, `ReachIndex<CommitSet>`), that is how many remain if it tests bad; if
/// good, the others remain. Summing posterior probabilities (`ReachIndex<[Double]>`), it is
/// the probability that the commit is truly bad (its ancestor mass).
///
/// Counting reach through merges commit by commit is what makes `git rev-list --bisect` slow
/// on big histories. Here the first-parent chain of the remaining commits, from its oldest end
/// to its top, gives nested ancestor sets, so one incremental walk yields the exact reach of
/// every chain commit (on a linear range that is all of them: prefix sums along the line) and
/// stamps each commit with the chain position that first reached it. Any other commit `x` has
/// among its ancestors a youngest chain commit `c` (its "low" point); its reach is reach(c)
/// plus the weight of its ancestors that `c` does not reach, and the stamps tell which those
/// are, so the walk for `x` stays on `x`'s own side branch. The stamps also bound every reach
/// without walking, which prunes most commits from the search.
struct ReachIndex<Weights: ReachWeights> {
  typealias Value = Weights.Value

  let graph: CommitGraph
  /// The commits still in play; walks never leave them.
  let remaining: CommitSet
  /// The weight of each commit; only those in `remaining` count.
  let weights: Weights
  /// The weight of all of `remaining`.
  let total: Value
  /// The first-parent chain of `remaining` from its youngest commit down.
  let chain: [Int]
  /// `chainReach[i]` is the reach of `chain[i]`; one extra slot holds 0.
  let chainReach: [Value]
  /// `chainWeightFrom[i]` is the weight of `chain[i...]`; one extra slot holds 0.
  let chainWeightFrom: [Value]
  /// Position on the chain for chain commits, -1 for the others.
  let chainPosition: [Int32]
  /// The chain position whose walk first reached each commit; -1 when none did.
  let stamp: [Int32]
  /// The smallest chain position among each commit's ancestors-or-self; `chain.count` when none.
  let low: [Int32]

  init(graph: CommitGraph, remaining: CommitSet, weights: Weights) {
    self.graph = graph
    self.remaining = remaining
    self.weights = weights

    var chain = [Int]()
    var cursor = remaining.first
    while let current = cursor {
      chain.append(current)
      cursor = graph.firstParent(of: current).flatMap { remaining.contains($0) ? $0 : nil }
    }
    var position = [Int32](repeating: -1, count: graph.count)
    for (offset, number) in chain.enumerated() { position[number] = Int32(offset) }

    // Oldest chain commit first: each walk adds what the next younger chain commit reaches
    // beyond the older ones.
    var stamp = [Int32](repeating: -1, count: graph.count)
    var reach = [Value](repeating: .zero, count: chain.count + 1)
    var chainWeight = [Value](repeating: .zero, count: chain.count + 1)
    var stack = [Int]()
    var reached = 0
    for offset in chain.indices.reversed() {
      let start = chain[offset]
      let mark = Int32(offset)
      stamp[start] = mark
      stack.append(start)
      var added = Value.zero
      while let current = stack.popLast() {
        reached += 1
        added += weights.weight(of: current)
        graph.forEachParent(of: current) { parent in
          if stamp[parent] < 0, remaining.contains(parent) {
            stamp[parent] = mark
            stack.append(parent)
          }
        }
      }
      reach[offset] = reach[offset + 1] + added
      chainWeight[offset] = chainWeight[offset + 1] + weights.weight(of: start)
    }

    // Parents before children, so each commit sees its parents' low points.
    let none = Int32(chain.count)
    var low = [Int32](repeating: none, count: graph.count)
    remaining.forEachDescending { number in
      if position[number] >= 0 {
        low[number] = position[number]
        return
      }
      var lowest = none
      graph.forEachParent(of: number) { parent in
        if remaining.contains(parent), low[parent] < lowest { lowest = low[parent] }
      }
      low[number] = lowest
    }

    // Commits that no chain commit reaches (none when all of `remaining` lies below its top)
    // weigh in the total too.
    var total = reach[0]
    if reached < remaining.count {
      for number in remaining where stamp[number] < 0 { total += weights.weight(of: number) }
    }

    self.chain = chain
    self.total = total
    chainReach = reach
    chainWeightFrom = chainWeight
    chainPosition = position
    self.stamp = stamp
    self.low = low
  }

  func isOnChain(_ number: Int) -> Bool { chainPosition[number] >= 0 }

  /// Bounds on the reach of a remaining commit that is off the chain, without walking: at least
  /// its low point's plus its own weight; at most what its stamping chain commit reaches
  /// (`total` when none did), less the chain commits above its low point (not its ancestors).
  func reachBounds(of number: Int) -> ClosedRange<Value> {
    let lowest = Int(low[number])
    let lower = chainReach[lowest] + weights.weight(of: number)
    let outer = stamp[number] >= 0 ? chainReach[Int(stamp[number])] : total
    let stampPosition = stamp[number] >= 0 ? Int(stamp[number]) : 0
    let upper = outer - (chainWeightFrom[stampPosition] - chainWeightFrom[lowest])
    return lower...max(lower, upper)
  }
}

extension ReachIndex<CommitSet> {
  /// Counts the possible culprits: the candidates among `remaining`.
  init(graph: CommitGraph, remaining: CommitSet, candidates: CommitSet) {
    self.init(graph: graph, remaining: remaining, weights: remaining.intersection(candidates))
  }

  /// The possible culprits: remaining commits that may be blamed.
  var candidates: CommitSet { weights }
}

/// Scratch space for exact reach walks, reused across many commits of one graph.
struct ReachWalker {
  private var seen: [UInt32]
  private var generation: UInt32 = 0
  private var stack: [Int] = []
  /// Commits visited by all walks so far: the work spent.
  private(set) var visited = 0

  init(count: Int) { seen = [UInt32](repeating: 0, count: count) }

  /// The exact reach of `number`, a remaining commit.
  mutating func reach<Weights>(of number: Int, in index: ReachIndex<Weights>) -> Weights.Value {
    if index.chainPosition[number] >= 0 { return index.chainReach[Int(index.chainPosition[number])] }
    generation &+= 1
    if generation == 0 {
      for offset in seen.indices { seen[offset] = 0 }
      generation = 1
    }
    let lowest = index.low[number]
    // Commits stamped at or below the low point are ancestors of that chain commit, already
    // counted in its reach.
    var reach = index.chainReach[Int(lowest)]
    seen[number] = generation
    stack.append(number)
    while let current = stack.popLast() {
      visited += 1
      reach += index.weights.weight(of: current)
      index.graph.forEachParent(of: current) { parent in
        guard seen[parent] != generation, index.remaining.contains(parent),
          index.stamp[parent] < lowest
        else { return }
        seen[parent] = generation
        stack.append(parent)
      }
    }
    return reach
  }
}
