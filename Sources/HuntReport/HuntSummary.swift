import Foundation
import History

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

/// How a step ended, as a report shows it: a verdict, or no verdict because the step
/// aborted the hunt or was stopped. (The verdict itself is History's `Verdict`.)
public enum StepEnd: Sendable, Hashable, CaseIterable {
  case good
  case bad
  case skip
  case abort
  case stopped

  /// The step's end for a verdict.
  public init(_ verdict: Verdict) {
    switch verdict {
    case .good: self = .good
    case .bad: self = .bad
    case .skip: self = .skip
    }
  }

  /// The word reports print.
  public var word: String {
    switch self {
    case .good: "good"
    case .bad: "bad"
    case .skip: "skip"
    case .abort: "abort"
    case .stopped: "stopped"
    }
  }
}

/// One deploy-and-test step of the hunt.
public struct StepSummary: Sendable, Hashable {
  /// 1-based, in the order the steps ran.
  public var number: Int
  public var hash: String
  public var shortHash: String
  public var subject: String
  public var purpose: StepPurpose
  public var verdict: StepEnd
  /// The verdict came from the verdict cache of an earlier hunt: nothing was deployed.
  public var reused: Bool
  /// The verdict was replayed from this hunt's saved state after a resume.
  public var replayed: Bool
  public var deploySeconds: Double?
  public var testSeconds: Double?
  public var totalSeconds: Double
  /// The last lines of the failing command's log (empty when there is nothing to show).
  public var logTail: String
  /// The environment the step deployed to; empty when nothing was deployed (a reused verdict).
  public var environment: String
  /// The deploy failed in `environment` and the commit was handed to another environment, where
  /// a later step tested it. `verdict` is then `skip`, but that is not the commit's verdict:
  /// the reports show "deploy failed, moved" instead.
  public var moved: Bool
  /// The verdict of each test run when the test ran more than once (`repeat: N`, `--confirm N`);
  /// empty for a single run.
  public var runVerdicts: [Verdict]
  /// A dependency step (`--descend-deps`): the dependency whose pin it wrote into the
  /// culprit's checkout (`hash` is then the dependency's commit), and the revision written.
  public var dependency: String?
  public var revision: String?

  public init(
    number: Int, hash: String, shortHash: String, subject: String, purpose: StepPurpose,
    verdict: StepEnd, reused: Bool = false, replayed: Bool = false, deploySeconds: Double? = nil,
    testSeconds: Double? = nil, totalSeconds: Double, logTail: String = "", environment: String = "",
    moved: Bool = false, runVerdicts: [Verdict] = [], dependency: String? = nil, revision: String? = nil
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
    self.environment = environment
    self.moved = moved
    self.runVerdicts = runVerdicts
    self.dependency = dependency
    self.revision = revision
  }
}

/// `--descend-deps`: one pin the culprit changed, and what the search inside the dependency found.
public struct DependencySummary: Sendable, Hashable {
  public var name: String
  /// The revision the culprit's parent pinned; nil when the culprit adds the pin.
  public var old: String?
  public var new: String
  /// `found`, `merge`, `not-the-cause`, `not-descended` or `inconclusive`.
  public var answer: String
  /// `found`: the dependency's first bad commit (`merge`: the merge that is the answer).
  public var commitHash: String?
  /// Its details, when the dependency's history is at hand.
  public var commit: CommitDetails?
  /// `found` among versions: the first bad version.
  public var version: String?
  /// The merge that brought the commit in, and its pull request.
  public var merge: CommitDetails?
  public var pullRequest: Int?
  public var note: String?

  public init(
    name: String, old: String?, new: String, answer: String, commitHash: String? = nil, commit: CommitDetails? = nil,
    version: String? = nil, merge: CommitDetails? = nil, pullRequest: Int? = nil, note: String? = nil
  ) {
    self.name = name
    self.old = old
    self.new = new
    self.answer = answer
    self.commitHash = commitHash
    self.commit = commit
    self.version = version
    self.merge = merge
    self.pullRequest = pullRequest
    self.note = note
  }

  /// "the culprit bumps kubespawner dc41368 -> a8d943b; inside kubespawner, 4180a79 Put the
  /// command in the pod spec broke it (pull request #35)".
  public var sentence: String {
    let change =
      old.map { "bumps \(name) \(revisionText($0)) -> \(revisionText(new))" } ?? "pins \(name) at \(revisionText(new))"
    var line = "The culprit \(change); "
    let short = commitHash.map { String($0.prefix(7)) } ?? "?"
    let subject = commit.map { " \($0.subject)" } ?? ""
    switch answer {
    case "found":
      line +=
        "inside \(name), " + (version.map { "version \($0) (\(short)\(subject))" } ?? "\(short)\(subject)")
        + " broke it"
      if let pullRequest { line += " (pull request #\(pullRequest))" }
      if let note { line += "; \(note)" }
    case "merge":
      line +=
        "inside \(name), merge \(short)\(pullRequest.map { " (pull request #\($0))" } ?? "") is the answer: \(note ?? "")"
    case "not-the-cause": line += "not the cause: \(note ?? "")"
    case "not-descended": line += "not descended into: \(note ?? "")"
    default: line += "the search inside \(name) could not decide: \(note ?? "")"
    }
    return line
  }
}

/// A revision as people read it: a full hash shortened to 7 digits, anything else whole.
func revisionText(_ revision: String) -> String {
  revision.utf8.count == 40 && revision.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) })
    ? String(revision.prefix(7)) : revision
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

/// `--descend`: the merge the first-parent search blamed, and what the search inside it found.
public struct DescentSummary: Sendable, Hashable {
  /// The merge on the first-parent history that brought the regression in.
  public var merge: CommitDetails
  /// The pull request of the merge, see `pullRequestNumber(inMessage:)`.
  public var pullRequest: Int?
  /// The commit inside the merge that broke it; nil when the merge itself is the answer.
  public var innerCulprit: CommitDetails?
  /// Why the merge itself is the answer (e.g. its commits could not be deployed on their own).
  public var note: String?

  public init(merge: CommitDetails, pullRequest: Int? = nil, innerCulprit: CommitDetails? = nil, note: String? = nil) {
    self.merge = merge
    self.pullRequest = pullRequest
    self.innerCulprit = innerCulprit
    self.note = note
  }
}

/// A commit the probabilistic mode ranked, with the probability that it is the first bad one.
public struct ProbableCulprit: Sendable, Hashable {
  public var hash: String
  public var shortHash: String
  /// Empty when the commit could not be read.
  public var subject: String
  /// Between 0 and 1.
  public var probability: Double

  public init(hash: String, shortHash: String, subject: String = "", probability: Double) {
    self.hash = hash
    self.shortHash = shortHash
    self.subject = subject
    self.probability = probability
  }
}

/// The probabilistic mode's answer (flaky tests): how sure it is and what it cost.
public struct ProbabilitySummary: Sendable, Hashable {
  /// The probability that the culprit (or, for `culpritAmong`, the most likely commit) is the
  /// first bad commit, or, for "no regression", that there is none; between 0 and 1.
  public var probability: Double
  /// The next most likely commit.
  public var runnerUp: ProbableCulprit?
  /// Why the search stopped, as stored: `confident`, `no-regression`, `budget-spent` or
  /// `nothing-testable`.
  public var reason: String
  /// Test runs in all.
  public var testRuns: Int
  /// Deploys in all; nil for hunts stored before they were counted.
  public var deploys: Int?
  /// The estimated share of failing runs from the culprit on, and before it.
  public var failsAfter: Double?
  public var failsBefore: Double?
  /// The runs at the bad endpoint and at the good ones.
  public var badEnd: RunTally?
  public var goodEnd: RunTally?

  public init(
    probability: Double, runnerUp: ProbableCulprit? = nil, reason: String, testRuns: Int, deploys: Int? = nil,
    failsAfter: Double? = nil, failsBefore: Double? = nil, badEnd: RunTally? = nil, goodEnd: RunTally? = nil
  ) {
    self.probability = probability
    self.runnerUp = runnerUp
    self.reason = reason
    self.testRuns = testRuns
    self.deploys = deploys
    self.failsAfter = failsAfter
    self.failsBefore = failsBefore
    self.badEnd = badEnd
    self.goodEnd = goodEnd
  }

  /// The reason in words: "confidence reached", "test budget spent"…
  public var reasonText: String {
    switch reason {
    case "confident": "confidence reached"
    case "no-regression": "no regression, with the confidence asked"
    case "budget-spent": "test budget spent"
    case "nothing-testable": "nothing left that could be tested"
    default: reason
    }
  }
}

/// How the test runs of `--confirm N` on one commit ended.
public struct ConfirmationTally: Sendable, Hashable {
  public var hash: String
  public var shortHash: String
  public var subject: String
  /// The culprit itself; otherwise one of its parents.
  public var isCulprit: Bool
  public var bad: Int
  public var good: Int
  public var skipped: Int

  public init(
    hash: String, shortHash: String, subject: String = "", isCulprit: Bool, bad: Int, good: Int, skipped: Int
  ) {
    self.hash = hash
    self.shortHash = shortHash
    self.subject = subject
    self.isCulprit = isCulprit
    self.bad = bad
    self.good = good
    self.skipped = skipped
  }
}

/// `--confirm N`: the culprit and its parents tested N more times each.
public struct ConfirmationSummary: Sendable, Hashable {
  /// Every run on the culprit failed and every run on its parents passed.
  public var holds: Bool
  /// The culprit first, then its parents.
  public var tallies: [ConfirmationTally]

  public init(holds: Bool, tallies: [ConfirmationTally] = []) {
    self.holds = holds
    self.tallies = tallies
  }
}

/// Everything the reports show of one hunt. A plain value: build it once, render it anywhere.
public struct HuntSummary: Sendable, Hashable {
  public var title: String
  /// The repository as the user named it (a path or a remote), shown as text only.
  public var repository: String
  /// The environment deployed to, or several joined by "," when the hunt used them at once.
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
  /// `--descend`: how the merge was blamed and what was found inside it.
  public var descent: DescentSummary?
  /// The probabilistic mode (flaky tests): the culprit's probability and the runner-up.
  public var probability: ProbabilitySummary?
  /// `--confirm N`: whether the answer held when tested again.
  public var confirmation: ConfirmationSummary?
  /// `--descend-deps`: for each pin the culprit changed, what was found inside the dependency.
  public var dependencies: [DependencySummary] = []
  /// `--confirm-revert`: bad with the culprit reverted, and how its test went.
  public var revert: RevertSummary?

  public init(
    title: String, repository: String, environment: String, badHash: String, goodHashes: [String],
    outcome: OutcomeKind, outcomeText: String, culprit: CommitDetails? = nil, merge: CommitDetails? = nil,
    pullRequest: Int? = nil, otherPossibleCulprits: [CommitDetails] = [], steps: [StepSummary] = [],
    totalSeconds: Double, started: Date, candidateCount: Int, timeline: [TimelineCommit] = [],
    descent: DescentSummary? = nil, probability: ProbabilitySummary? = nil, confirmation: ConfirmationSummary? = nil
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
    self.descent = descent
    self.probability = probability
    self.confirmation = confirmation
  }

  /// The names in `environment`, in order.
  public var environments: [String] {
    environment.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
  }

  /// The environments steps deployed to, in order of first use.
  public var environmentsUsed: [String] {
    var seen = Set<String>()
    return steps.map(\.environment).filter { !$0.isEmpty && seen.insert($0).inserted }
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
