import History

/// A commit whose exact reach is known, as the split search ranks it.
struct ScoredCommit {
  var number: Int
  var reach: Int
  var isOnChain: Bool
}

extension ReachIndex<CommitSet> {
  /// Up to `count` distinct commits of `testable` whose reaches lie nearest to
  /// `total * j / (count + 1)` for `j = 1...count`, so that their verdicts split the possible
  /// culprits into `count + 1` parts as evenly as the graph allows. For `count == 1` this is
  /// the commit maximising `min(reach, total - reach)`, git's rule.
  ///
  /// Ties go to first-parent commits, then to the younger (smaller number), so the choice
  /// never depends on anything but the graph and the verdicts. Commits whose reach is
  /// `total` (the top, which tells nothing) are never returned. `workBudget` caps the commits
  /// visited by exact side-branch walks; below it, the result is exact.
  func split(into count: Int, from testable: CommitSet, workBudget: Int) -> [ScoredCommit] {
    let scored = scoreCandidates(for: count, from: testable, workBudget: workBudget)
    var chosen = [ScoredCommit]()
    var taken = Set<Int>()
    for target in 1...max(1, count) {
      guard
        let best = scored.lazy.filter({ !taken.contains($0.number) })
          .min(by: { rank($0, target, count) < rank($1, target, count) })
      else { break }
      chosen.append(best)
      taken.insert(best.number)
    }
    return chosen
  }

  /// Every testable commit as good as the best single split (ties included), best first.
  func bestSplits(from testable: CommitSet, workBudget: Int) -> [ScoredCommit] {
    let scored = scoreCandidates(for: 1, from: testable, workBudget: workBudget)
    guard let best = scored.map({ rank($0, 1, 1).distance }).min() else { return [] }
    return scored.filter { rank($0, 1, 1).distance == best }
      .sorted { rank($0, 1, 1) < rank($1, 1, 1) }
  }

  /// How a commit ranks for target `target` of `count`: nearer first, then first-parent
  /// commits, then younger ones. Distances are scaled by `count + 1` to stay in integers.
  private func rank(_ commit: ScoredCommit, _ target: Int, _ count: Int) -> (
    distance: Int, side: Int, number: Int
  ) {
    (abs(commit.reach * (count + 1) - total * target), commit.isOnChain ? 0 : 1, commit.number)
  }

  /// The exact reach of every commit that could be among the `count` nearest to some target;
  /// others are pruned by their bounds.
  private func scoreCandidates(for count: Int, from testable: CommitSet, workBudget: Int)
    -> [ScoredCommit]
  {
    guard count > 0, total > 1 else { return [] }
    let parts = count + 1
    // Distances are scaled by `parts` to stay in integers: |reach * parts - total * j|.
    func distance(_ reach: Int, _ target: Int) -> Int { abs(reach * parts - total * target) }
    func distance(_ bounds: ClosedRange<Int>, _ target: Int) -> Int {
      let goal = total * target
      if bounds.lowerBound * parts > goal { return bounds.lowerBound * parts - goal }
      if bounds.upperBound * parts < goal { return goal - bounds.upperBound * parts }
      return 0
    }

    var scored = [ScoredCommit]()
    // The `count` best distances found so far for each target, ascending.
    var nearest = [[Int]](repeating: [], count: count)
    func threshold(_ slot: Int) -> Int { nearest[slot].count < count ? Int.max : nearest[slot][count - 1] }
    func note(_ commit: ScoredCommit) {
      scored.append(commit)
      for slot in 0..<count {
        let gap = distance(commit.reach, slot + 1)
        guard gap <= threshold(slot) else { continue }
        let place = nearest[slot].firstIndex { $0 > gap } ?? nearest[slot].count
        nearest[slot].insert(gap, at: place)
        if nearest[slot].count > count { nearest[slot].removeLast() }
      }
    }

    for (position, number) in chain.enumerated() where testable.contains(number) {
      let reach = chainReach[position]
      if reach < total { note(ScoredCommit(number: number, reach: reach, isOnChain: true)) }
    }

    // Side-branch commits: bound first, walk only those that could still win.
    var side = [(key: Int, number: Int, bounds: ClosedRange<Int>)]()
    for number in testable {
      guard chainPosition[number] < 0 else { continue }
      let bounds = reachBounds(of: number)
      guard bounds.lowerBound < total else { continue }
      let key = (1...count).lazy.map { distance(bounds, $0) }.min() ?? 0
      side.append((key, number, bounds))
    }
    side.sort { ($0.key, $0.number) < ($1.key, $1.number) }
    var walker = ReachWalker(count: graph.count)
    for entry in side {
      if walker.visited > workBudget { break }
      let widest = (0..<count).lazy.map { threshold($0) }.max() ?? Int.max
      if entry.key > widest { break }
      guard (0..<count).contains(where: { distance(entry.bounds, $0 + 1) <= threshold($0) }) else {
        continue
      }
      let reach = walker.reach(of: entry.number, in: self)
      if reach < total { note(ScoredCommit(number: entry.number, reach: reach, isOnChain: false)) }
    }

    return scored
  }
}
