import History

/// How fast and how well a bisection's first midpoint was chosen: what the benchmark prints
/// beside `git rev-list --bisect-vars` on the same range.
public struct MidpointMeasurement: Sendable, Hashable {
  /// The commit chosen, nil when there is nothing to test.
  public var commit: ObjectID?
  /// The possible culprits among its ancestors-or-self (git's `bisect_bad + 1`).
  public var reach: Int
  /// The possible culprits in the range (git's `bisect_all`).
  public var candidateCount: Int
  /// Time spent building the bisection and choosing the commit; not the graph load.
  public var duration: Duration

  /// How evenly the choice splits the range: `min(reach, candidateCount - reach)`, the
  /// number git maximises.
  public var split: Int { min(reach, candidateCount - reach) }

  public init(commit: ObjectID?, reach: Int, candidateCount: Int, duration: Duration) {
    self.commit = commit
    self.reach = reach
    self.candidateCount = candidateCount
    self.duration = duration
  }
}

extension Bisection {
  /// Times choosing the first commit to test in `graph` (no verdicts, no merge bases), then
  /// checks the chosen commit's reach with an independent walk.
  public static func measureFirstMidpoint(in graph: CommitGraph) -> MidpointMeasurement {
    let clock = ContinuousClock()
    let start = clock.now
    let bisection = Bisection(graph: graph)
    let outcome = bisection.next()
    let duration = clock.now - start
    guard case .test(let commit) = outcome else {
      return MidpointMeasurement(
        commit: nil, reach: 0, candidateCount: bisection.remainingCount, duration: duration)
    }
    return MidpointMeasurement(
      commit: commit, reach: bisection.reach(of: commit) ?? 0,
      candidateCount: bisection.remainingCount, duration: duration)
  }
}
