import History

/// The state of one search for the commit that broke an environment: a range of commits and
/// the verdicts recorded so far. A plain value: no I/O, safe to copy and to send across tasks.
///
/// The possible culprits are the candidates (commits that may be blamed: all of them, or with
/// path limits those that change the paths) that are ancestors-or-self of every bad commit and
/// ancestors of no good commit. `next()` names the commit to test (the one whose verdict
/// splits the possible culprits most evenly, as git does) or concludes; `nextRound(count:)`
/// names several to test at once.
///
/// Deterministic: the same graph, merge bases and verdicts in the same order always give the
/// same answers, so replaying `verdicts` reproduces a bisection step for step.
public struct Bisection: Sendable {
  /// The range searched: `graph.tip` is the known bad commit, `graph.boundaries` the good ones.
  /// For a `--first-parent` search, pass `graph.firstParentChain()`.
  public let graph: CommitGraph
  /// Merge bases of the tip with good commits that are not its ancestors, tested before the
  /// range (as git does): good lets the search go on, bad concludes `.fixedBetween`.
  public let mergeBases: [ObjectID]
  /// Every verdict recorded, in order.
  public private(set) var verdicts: [RecordedVerdict] = []

  private let candidateFlags: CommitSet
  private let tipNumber: Int?
  /// Commits still in play: ancestors-or-self of every bad commit, not ancestors of a good one.
  private var remaining: CommitSet
  /// Commits inside the graph found good, with their ancestors.
  private var knownGood: CommitSet
  /// Commits inside the graph found bad (the tip among them).
  private var knownBad: CommitSet
  private var skipped: CommitSet
  private var mergeBaseVerdicts: [Verdict?]
  private var contradiction: Conclusion?

  /// Starts a bisection of `graph`.
  ///
  /// - Parameter mergeBases: the merge bases of the tip with each good commit that is not its
  ///   ancestor, as the graph loader found them. Those equal to a boundary are dropped.
  public init(graph: CommitGraph, mergeBases: [ObjectID] = []) {
    self.graph = graph
    var bases = [ObjectID]()
    for base in mergeBases where !bases.contains(base) && !graph.boundaries.contains(base) {
      bases.append(base)
    }
    self.mergeBases = bases
    mergeBaseVerdicts = [Verdict?](repeating: nil, count: bases.count)
    candidateFlags = CommitSet(flags: graph.isCandidate)
    let tip = graph.number(of: graph.tip)
    tipNumber = tip
    remaining = CommitSet(capacity: graph.count, full: true)
    knownGood = CommitSet(capacity: graph.count)
    knownBad = CommitSet(capacity: graph.count)
    skipped = CommitSet(capacity: graph.count)
    if let tip { knownBad.insert(tip) }
  }

  // MARK: Recording verdicts

  /// Records the verdict on `commit`, which may lie outside the graph.
  ///
  /// A verdict that contradicts earlier ones (or the endpoints) freezes the bisection on the
  /// matching contradiction: `next()` returns it from then on. Outside the graph, a pending
  /// merge base takes its verdict; any other commit counts as an ancestor of a good commit,
  /// so only a bad verdict matters there (`.goodFoundBad`).
  public mutating func record(_ verdict: Verdict, for commit: ObjectID) {
    verdicts.append(RecordedVerdict(commit: commit, verdict: verdict))
    guard contradiction == nil, tipNumber != nil else { return }
    guard let number = graph.number(of: commit) else {
      recordOutside(verdict, for: commit)
      return
    }
    switch verdict {
    case .skip:
      skipped.insert(number)
    case .bad:
      if knownGood.contains(number) {
        contradiction = .goodFoundBad(commit)
        return
      }
      knownBad.insert(number)
      remaining.formIntersection(graph.ancestorSet(of: number))
    case .good:
      let ancestors = graph.ancestorSet(of: number)
      if ancestors.intersects(knownBad) {
        contradiction = .badFoundGood(commit)
        return
      }
      knownGood.formUnion(ancestors)
      remaining.subtract(ancestors)
    }
  }

  private mutating func recordOutside(_ verdict: Verdict, for commit: ObjectID) {
    if let slot = mergeBases.firstIndex(of: commit) {
      switch verdict {
      case .bad: contradiction = .fixedBetween(mergeBase: commit, goods: graph.boundaries)
      case .good: mergeBaseVerdicts[slot] = .good
      case .skip: if mergeBaseVerdicts[slot] == nil { mergeBaseVerdicts[slot] = .skip }
      }
    } else if verdict == .bad {
      contradiction = .goodFoundBad(commit)
    }
  }

  // MARK: What next

  /// The next commit to test, or the conclusion.
  public func next() -> Outcome {
    switch nextRound(count: 1) {
    case .test(let commits): .test(commits[0])
    case .concluded(let conclusion): .concluded(conclusion)
    }
  }

  /// Up to `count` distinct commits to test in parallel, chosen to split the possible culprits
  /// into `count + 1` parts as evenly as the graph allows (on a linear range, a search of `N`
  /// possible culprits takes `ceil(log_(count+1) N)` rounds), or the conclusion. Untested merge
  /// bases come first.
  public func nextRound(count: Int) -> Round {
    if let contradiction { return .concluded(contradiction) }
    guard tipNumber != nil else { return .concluded(.emptyRange) }
    let width = max(1, count)
    let bases = pendingMergeBases
    if bases.count >= width { return .test(Array(bases.prefix(width))) }

    let index = ReachIndex(graph: graph, remaining: remaining, candidates: candidateFlags)
    if index.total == 0 { return .concluded(.noCandidate) }
    let testable = index.candidates.subtracting(knownBad).subtracting(skipped)
    let budget = Self.workBudget(graph.count)
    let picks =
      width - bases.count == 1
      ? Array(lookAhead(index.bestSplits(from: testable, workBudget: budget), in: index, testable: testable).prefix(1))
      : index.split(into: width - bases.count, from: testable, workBudget: budget)
    var commits = bases + picks.map { graph.ids[$0.number] }
    // The top of the possible culprits, when untested (with path limits the tip may not be a
    // candidate), tells nothing about the others but must be seen bad before it is named:
    // test it when nothing else is left, or in a spare parallel slot.
    if commits.count < width, let top = testable.first, !picks.contains(where: { $0.number == top }),
      index.total > 0, graph.ancestorSet(of: top).intersection(index.candidates).count == index.total
    {
      commits.append(graph.ids[top])
    }
    if !commits.isEmpty { return .test(commits) }
    return .concluded(conclusion(possible: index.candidates))
  }

  /// The end of a search where nothing is left to test.
  private func conclusion(possible: CommitSet) -> Conclusion {
    let members = possible.members
    if members.count == 1, knownBad.contains(members[0]) {
      return .culprit(graph.ids[members[0]])
    }
    // Skipped commits are left: the honest answer is every one of them that could be the
    // culprit, with the lowest bad commit (which may be it too).
    var set = possible
    set.formUnion(knownBad.intersection(remaining))
    return .culpritAmong(set.members.map { graph.ids[$0] })
  }

  private var pendingMergeBases: [ObjectID] {
    zip(mergeBases, mergeBaseVerdicts).compactMap { $1 == nil ? $0 : nil }
  }

  /// Among equally even splits, the one whose two outcomes leave ranges that split best in
  /// turn (fewest expected tests, one step ahead), first on ties. Skipped on big ranges, where
  /// each look costs a walk of the whole range.
  private func lookAhead(_ ties: [ScoredCommit], in index: ReachIndex<CommitSet>, testable: CommitSet)
    -> [ScoredCommit]
  {
    guard ties.count > 1, index.remaining.count <= Self.lookAheadLimit else { return ties }
    var best = ties[0]
    var bestCost = Double.infinity
    for commit in ties.prefix(32) {
      let cost = expectedTests(testing: commit, in: index, testable: testable)
      if cost < bestCost - 1e-9 {
        best = commit
        bestCost = cost
      }
    }
    return [best]
  }

  /// Ranges of up to this many commits in play get the one-step look-ahead between ties.
  static let lookAheadLimit = 20_000

  /// Expected tests when `commit` is tested now, assuming a uniformly likely culprit and
  /// estimating each outcome's remaining tests from its own best split.
  private func expectedTests(testing commit: ScoredCommit, in index: ReachIndex<CommitSet>, testable: CommitSet)
    -> Double
  {
    let ancestors = graph.ancestorSet(of: commit.number)
    var badTestable = testable.intersection(ancestors)
    badTestable.remove(commit.number)
    let bad = estimatedTests(remaining: index.remaining.intersection(ancestors), testable: badTestable)
    let good = estimatedTests(
      remaining: index.remaining.subtracting(ancestors), testable: testable.subtracting(ancestors))
    let share = Double(commit.reach) / Double(index.total)
    return 1 + share * bad + (1 - share) * good
  }

  private func estimatedTests(remaining: CommitSet, testable: CommitSet) -> Double {
    let index = ReachIndex(graph: graph, remaining: remaining, candidates: candidateFlags)
    let size = index.total
    guard size > 1,
      let split = index.split(into: 1, from: testable, workBudget: Self.workBudget(graph.count)).first
    else { return 0 }
    let share = Double(split.reach) / Double(size)
    return 1 + share * Self.balancedTests(split.reach) + (1 - share) * Self.balancedTests(size - split.reach)
  }

  /// Mean tests to find one of `count` culprits by perfectly balanced halving.
  static func balancedTests(_ count: Int) -> Double {
    guard count > 1 else { return 0 }
    let depth = Int.bitWidth - 1 - count.leadingZeroBitCount
    return Double(depth) + 2 * Double(count - (1 << depth)) / Double(count)
  }

  /// Work allowed to exact side-branch walks per choice; far above what small graphs need.
  static func workBudget(_ count: Int) -> Int { 1_000_000 + 20 * count }

  // MARK: Progress

  /// The number of possible culprits left.
  public var remainingCount: Int {
    remaining.intersection(candidateFlags).count
  }

  /// The possible culprits left, children first.
  public var possibleCulprits: [ObjectID] {
    remaining.intersection(candidateFlags).members.map { graph.ids[$0] }
  }

  /// Merge bases whose verdict was skip: the search went on without knowing whether the
  /// regression was fixed between them and the good commits (git warns the same way).
  public var uncheckedMergeBases: [ObjectID] {
    zip(mergeBases, mergeBaseVerdicts).compactMap { $1 == .skip ? $0 : nil }
  }

  /// About how many more rounds of `parallel` tests are needed: the untested merge bases,
  /// then `ceil(log_(parallel+1) N)` for `N` possible culprits, exact on a linear range
  /// without skips.
  public func estimatedRounds(parallel: Int = 1) -> Int {
    let width = max(1, parallel)
    let bases = pendingMergeBases.count
    var rounds = (bases + width - 1) / width
    var reachable = 1
    let possible = remainingCount
    while reachable < possible {
      reachable *= width + 1
      rounds += 1
    }
    return rounds
  }

  /// The number of possible culprits among the ancestors-or-self of `commit`: how many remain
  /// if it tests bad. Nil when `commit` is not in play. Costs one walk of the graph.
  public func reach(of commit: ObjectID) -> Int? {
    guard let number = graph.number(of: commit), remaining.contains(number) else { return nil }
    return graph.ancestorSet(of: number).intersection(remaining).intersection(candidateFlags).count
  }
}
