import History

// `Verdict` itself is defined in History, shared with the store and the reports.

/// One verdict as it was recorded, in order: replaying a bisection's `verdicts` into a new
/// `Bisection` built from the same graph gives the same state and the same next steps.
public struct RecordedVerdict: Sendable, Hashable {
  public var commit: ObjectID
  public var verdict: Verdict

  public init(commit: ObjectID, verdict: Verdict) {
    self.commit = commit
    self.verdict = verdict
  }
}

/// How a bisection ended, or why it cannot go on.
public enum Conclusion: Sendable, Hashable {
  /// The first bad commit: it was found bad (or is the bad tip) and every candidate among its
  /// ancestors in the range is good.
  case culprit(ObjectID)
  /// Only skipped commits are left around the first bad commit: it is one of these (the
  /// lowest bad commit and the skipped candidates that could be it), children first.
  /// Like git's "The first bad commit could be any of".
  case culpritAmong([ObjectID])
  /// Nothing to search: bad equals good, or bad is an ancestor of a good commit.
  case emptyRange
  /// No commit that may be blamed is left. With path limits, the regression is in a commit
  /// that does not change those paths (git: "No testable commit found").
  case noCandidate
  /// A commit that is good, or an ancestor of a good commit (a boundary, a commit outside
  /// the range), was found bad: the verdicts contradict each other.
  case goodFoundBad(ObjectID)
  /// A commit that is bad, or has a bad ancestor (the tip, for one), was found good: the
  /// verdicts contradict each other.
  case badFoundGood(ObjectID)
  /// A merge base of bad and a good commit that is not its ancestor was found bad: the
  /// regression was fixed between that merge base and the good commits, not introduced.
  case fixedBetween(mergeBase: ObjectID, goods: [ObjectID])

  /// The conclusion in words, for people (summaries, `hunts`, `plan`) and for the stored
  /// outcome: never the enum's Swift spelling.
  public var explanation: String {
    switch self {
    case .culprit(let id): "the first bad commit is \(id.short())"
    case .culpritAmong(let ids): "the first bad commit is one of \(ids.map { $0.short() }.joined(separator: " "))"
    case .emptyRange: "bad is good or one of its ancestors: nothing to search"
    case .noCandidate: "no commit in the range changes the given paths"
    case .goodFoundBad(let id): "\(id.short()) is good (or an ancestor of good) but tested bad"
    case .badFoundGood(let id): "\(id.short()) is bad (or has a bad ancestor) but tested good"
    case .fixedBetween(let base, _):
      "the merge base \(base.short()) is bad: the bug was fixed between it and good, not introduced"
    }
  }

  /// A stable word for machines (`plan --json`): `culprit`, `culprit-among`, `empty-range`,
  /// `no-candidate`, `good-found-bad`, `bad-found-good`, `fixed-between`.
  public var token: String {
    switch self {
    case .culprit: "culprit"
    case .culpritAmong: "culprit-among"
    case .emptyRange: "empty-range"
    case .noCandidate: "no-candidate"
    case .goodFoundBad: "good-found-bad"
    case .badFoundGood: "bad-found-good"
    case .fixedBetween: "fixed-between"
    }
  }

  /// True for the outcomes that mean the verdicts or the endpoints disagree.
  public var isContradiction: Bool {
    switch self {
    case .culprit, .culpritAmong, .noCandidate: false
    case .emptyRange, .goodFoundBad, .badFoundGood, .fixedBetween: true
    }
  }
}

/// What to do next in a one-at-a-time bisection.
public enum Outcome: Sendable, Hashable {
  /// Deploy and test this commit, then record its verdict.
  case test(ObjectID)
  /// Nothing more to test.
  case concluded(Conclusion)
}

/// What to do next when several environments test at once.
public enum Round: Sendable, Hashable {
  /// Deploy and test these distinct commits in parallel, then record every verdict (in any
  /// order) before asking for the next round.
  case test([ObjectID])
  /// Nothing more to test.
  case concluded(Conclusion)
}
