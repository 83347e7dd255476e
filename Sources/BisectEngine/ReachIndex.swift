import History

/// Exact reach counts over the commits still in play, built in O(commits + edges).
///
/// The reach of a commit is the number of candidates (possible culprits) among its ancestors,
/// itself included: if it tests bad, that many remain; if good, the others remain.
///
/// Counting reach through merges commit by commit is what makes `git rev-list --bisect` slow
/// on big histories. Here the first-parent chain of the remaining commits, from its oldest end
/// to its top, gives nested ancestor sets, so one incremental walk yields the exact reach of
/// every chain commit and stamps each commit with the chain position that first reached it.
/// Any other commit `x` has among its ancestors a youngest chain commit `c` (its "low" point);
/// its reach is reach(c) plus the candidates among its ancestors that `c` does not reach, and
/// the stamps tell which those are, so the walk for `x` stays on `x`'s own side branch. The
/// stamps also bound every reach without walking, which prunes most commits from the search.
struct ReachIndex {
  let graph: CommitGraph
  /// The commits still in play (candidates or not).
  let remaining: CommitSet
  /// The possible culprits: remaining commits that may be blamed.
  let candidates: CommitSet
  /// The number of possible culprits.
  let total: Int
  /// The first-parent chain of `remaining` from its youngest commit down.
  let chain: [Int]
  /// `chainReach[i]` is the reach of `chain[i]`; one extra slot holds 0.
  let chainReach: [Int]
  /// `chainCandidatesFrom[i]` counts the candidates among `chain[i...]`; one extra slot holds 0.
  let chainCandidatesFrom: [Int]
  /// Position on the chain for chain commits, -1 for the others.
  let chainPosition: [Int32]
  /// The chain position whose walk first reached each commit; -1 when none did.
  let stamp: [Int32]
  /// The smallest chain position among each commit's ancestors-or-self; `chain.count` when none.
  let low: [Int32]

  init(graph: CommitGraph, remaining: CommitSet, candidates allCandidates: CommitSet) {
    self.graph = graph
    self.remaining = remaining
    let candidates = remaining.intersection(allCandidates)
    self.candidates = candidates
    total = candidates.count

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
    var reach = [Int](repeating: 0, count: chain.count + 1)
    var chainCandidates = [Int](repeating: 0, count: chain.count + 1)
    var stack = [Int]()
    for offset in chain.indices.reversed() {
      let start = chain[offset]
      let mark = Int32(offset)
      stamp[start] = mark
      stack.append(start)
      var added = 0
      while let current = stack.popLast() {
        if candidates.contains(current) { added += 1 }
        graph.forEachParent(of: current) { parent in
          if stamp[parent] < 0, remaining.contains(parent) {
            stamp[parent] = mark
            stack.append(parent)
          }
        }
      }
      reach[offset] = reach[offset + 1] + added
      chainCandidates[offset] =
        chainCandidates[offset + 1] + (candidates.contains(start) ? 1 : 0)
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

    self.chain = chain
    chainReach = reach
    chainCandidatesFrom = chainCandidates
    chainPosition = position
    self.stamp = stamp
    self.low = low
  }

  func isOnChain(_ number: Int) -> Bool { chainPosition[number] >= 0 }

  /// Bounds on the reach of a remaining candidate that is off the chain, without walking.
  func reachBounds(of number: Int) -> ClosedRange<Int> {
    let lowest = Int(low[number])
    let lower = chainReach[lowest] + 1
    // Ancestors of `number` lie within what its stamping chain commit reaches, minus the
    // chain commits above its low point, which it cannot reach.
    let outer = stamp[number] >= 0 ? chainReach[Int(stamp[number])] : total
    let stampPosition = stamp[number] >= 0 ? Int(stamp[number]) : 0
    let upper = outer - (chainCandidatesFrom[stampPosition] - chainCandidatesFrom[lowest])
    return lower...max(lower, upper)
  }
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
  mutating func reach(of number: Int, in index: ReachIndex) -> Int {
    if index.chainPosition[number] >= 0 { return index.chainReach[Int(index.chainPosition[number])] }
    generation &+= 1
    if generation == 0 {
      for offset in seen.indices { seen[offset] = 0 }
      generation = 1
    }
    let lowest = index.low[number]
    // Commits stamped at or below the low point are ancestors of that chain commit, already
    // counted in its reach.
    var count = index.chainReach[Int(lowest)]
    seen[number] = generation
    stack.append(number)
    while let current = stack.popLast() {
      visited += 1
      if index.candidates.contains(current) { count += 1 }
      index.graph.forEachParent(of: current) { parent in
        guard seen[parent] != generation, index.remaining.contains(parent),
          index.stamp[parent] < lowest
        else { return }
        seen[parent] = generation
        stack.append(parent)
      }
    }
    return count
  }
}
