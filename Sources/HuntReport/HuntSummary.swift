import Foundation

// The input of the reports: plain values copied out of a finished (or stopped) hunt. The CLI
// fills them from the store and the repository; this module never reads either.

/// How a hunt ended, in the words the CLI prints.
public enum OutcomeKind: String, Sendable, Hashable, CaseIterable {
  /// One first bad commit was found.
  case culprit
  /// Skipped commits hide the first bad commit: it is one of a few.
  case culpritAmong = "culprit-among"
  /// The bad end tested good: nothing regressed.
  case noRegression = "no-regression"
  /// The verdicts (or the endpoints) disagree with each other.
  case contradiction
  /// The range held no commit to test.
  case nothingToSearch = "nothing-to-search"
  /// A step asked to abort the hunt.
  case aborted
  /// Stopped by a signal or a time limit before a conclusion.
  case stopped
}

/// One file a commit changed, as `git show --name-status` prints it.
public struct ChangedFile: Sendable, Hashable {
  /// `A`, `M`, `D`, `R`, `C`, `T`…
  public var status: String
  public var path: String

  public init(status: String, path: String) {
    self.status = status
    self.path = path
  }
}

/// What the report shows of one commit (the culprit, its merge, another possible culprit).
public struct CommitDetails: Sendable, Hashable {
  public var hash: String
  public var shortHash: String
  public var subject: String
  public var authorName: String
  public var authorEmail: String
  public var authorDate: Date
  /// The message after the subject line, possibly empty.
  public var body: String
  public var changedFiles: [ChangedFile]

  public init(
    hash: String, shortHash: String, subject: String, authorName: String, authorEmail: String,
    authorDate: Date, body: String = "", changedFiles: [ChangedFile] = []
  ) {
    self.hash = hash
    self.shortHash = shortHash
    self.subject = subject
    self.authorName = authorName
    self.authorEmail = authorEmail
    self.authorDate = authorDate
    self.body = body
    self.changedFiles = changedFiles
  }
}

/// Why a step tested its commit.
public enum StepPurpose: String, Sendable, Hashable, CaseIterable {
  case verifyBad = "verify-bad"
  case verifyGood = "verify-good"
  case bisect
  case manual
}

/// What a step concluded about its commit.
public enum StepVerdict: String, Sendable, Hashable, CaseIterable {
  case good
  case bad
  case skip
  case abort
  case stopped
}

/// One deploy-and-test step of the hunt.
public struct StepSummary: Sendable, Hashable {
  /// 1-based, in the order the steps ran.
  public var number: Int
  public var hash: String
  public var shortHash: String
  public var subject: String
  public var purpose: StepPurpose
  public var verdict: StepVerdict
  /// The verdict came from the verdict cache of an earlier hunt: nothing was deployed.
  public var reused: Bool
  /// The verdict was replayed from this hunt's saved state after a resume.
  public var replayed: Bool
  public var deploySeconds: Double?
  public var testSeconds: Double?
  public var totalSeconds: Double
  /// The last lines of the failing command's log (empty when there is nothing to show).
  public var logTail: String

  public init(
    number: Int, hash: String, shortHash: String, subject: String, purpose: StepPurpose,
    verdict: StepVerdict, reused: Bool = false, replayed: Bool = false, deploySeconds: Double? = nil,
    testSeconds: Double? = nil, totalSeconds: Double, logTail: String = ""
  ) {
    self.number = number
    self.hash = hash
    self.shortHash = shortHash
    self.subject = subject
    self.purpose = purpose
    self.verdict = verdict
    self.reused = reused
    self.replayed = replayed
    self.deploySeconds = deploySeconds
    self.testSeconds = testSeconds
    self.totalSeconds = totalSeconds
    self.logTail = logTail
  }
}

/// One commit of the candidate range, for the picture of the search.
public struct TimelineCommit: Sendable, Hashable {
  public var hash: String
  public var shortHash: String
  public var subject: String
  public var date: Date
  /// On the first-parent history of the bad commit (the main lane of the picture).
  public var isFirstParent: Bool
  /// Indexes into `HuntSummary.timeline` of the parents that are in it, first parent first.
  public var parents: [Int]

  public init(
    hash: String, shortHash: String, subject: String, date: Date, isFirstParent: Bool, parents: [Int]
  ) {
    self.hash = hash
    self.shortHash = shortHash
    self.subject = subject
    self.date = date
    self.isFirstParent = isFirstParent
    self.parents = parents
  }
}

/// Everything the reports show of one hunt. A plain value: build it once, render it anywhere.
public struct HuntSummary: Sendable, Hashable {
  public var title: String
  /// The repository as the user named it (a path or a remote), shown as text only.
  public var repository: String
  public var environment: String
  public var badHash: String
  public var goodHashes: [String]
  public var outcome: OutcomeKind
  /// The one-line conclusion the CLI printed, e.g. "abc1234 is the first bad commit".
  public var outcomeText: String
  /// The first bad commit (for `culpritAmong`, the lowest bad commit when known).
  public var culprit: CommitDetails?
  /// The merge that brought the culprit into the first-parent history, if it was not on it.
  public var merge: CommitDetails?
  /// The pull request of `merge` (or of a squashed culprit), see `pullRequestNumber(inMessage:)`.
  public var pullRequest: Int?
  /// The other commits that may be the first bad one (`culpritAmong`).
  public var otherPossibleCulprits: [CommitDetails]
  public var steps: [StepSummary]
  public var totalSeconds: Double
  public var started: Date
  /// How many commits could be blamed when the hunt started.
  public var candidateCount: Int
  /// The candidate range in topological order, children first (the bad commit first). It may
  /// also hold the good boundary commits, so that their steps are drawn too; steps on commits
  /// that are not in it appear in the tables only.
  public var timeline: [TimelineCommit]

  public init(
    title: String, repository: String, environment: String, badHash: String, goodHashes: [String],
    outcome: OutcomeKind, outcomeText: String, culprit: CommitDetails? = nil, merge: CommitDetails? = nil,
    pullRequest: Int? = nil, otherPossibleCulprits: [CommitDetails] = [], steps: [StepSummary] = [],
    totalSeconds: Double, started: Date, candidateCount: Int, timeline: [TimelineCommit] = []
  ) {
    self.title = title
    self.repository = repository
    self.environment = environment
    self.badHash = badHash
    self.goodHashes = goodHashes
    self.outcome = outcome
    self.outcomeText = outcomeText
    self.culprit = culprit
    self.merge = merge
    self.pullRequest = pullRequest
    self.otherPossibleCulprits = otherPossibleCulprits
    self.steps = steps
    self.totalSeconds = totalSeconds
    self.started = started
    self.candidateCount = candidateCount
    self.timeline = timeline
  }
}

extension OutcomeKind {
  /// A short heading for the outcome.
  public var heading: String {
    switch self {
    case .culprit: "Culprit found"
    case .culpritAmong: "Culprit among a few commits"
    case .noRegression: "No regression"
    case .contradiction: "Contradictory verdicts"
    case .nothingToSearch: "Nothing to search"
    case .aborted: "Hunt aborted"
    case .stopped: "Hunt stopped"
    }
  }
}
