import Foundation
import History

// Steps are stored with History's `Verdict` and `StepPurpose`.

/// A hunt about to start: what `createHunt` stores.
public struct NewHunt: Sendable, Hashable {
  /// The repository the hunt bisects, as the user named it or resolved.
  public var repositoryPath: String
  /// The bad commit, 40 hexadecimal digits.
  public var bad: String
  /// The good commits, 40 hexadecimal digits each.
  public var goods: [String]
  /// Path limits (`git bisect start -- PATHS`); empty for none.
  public var paths: [String]
  /// Whether only first parents are followed (`--first-parent`).
  public var firstParent: Bool
  /// The environment deployed to.
  public var environment: String
  /// A hash of the deploy and test definitions and the environment's variables: verdicts are
  /// reused only between hunts with the same fingerprint on the same environment.
  public var configFingerprint: String
  /// The command line that started the hunt, for the record.
  public var commandLine: String
  public var startedAt: Date
  /// The host that started it (`ProcessIdentity.hostName`).
  public var host: String
  /// True when `environment` names a pool the hunt takes environments from, rather than the
  /// environments it deploys to.
  public var pool: Bool
  /// Unique per hunt created: storing it again (a retry after a lost connection whose commit
  /// may have happened) returns the hunt stored the first time instead of a second one.
  public var creationToken: String

  public init(
    repositoryPath: String, bad: String, goods: [String], paths: [String] = [], firstParent: Bool = false,
    environment: String, configFingerprint: String, commandLine: String, startedAt: Date = Date(),
    host: String = ProcessIdentity.hostName, pool: Bool = false, creationToken: String = UUID().uuidString
  ) {
    self.repositoryPath = repositoryPath
    self.bad = bad
    self.goods = goods
    self.paths = paths
    self.firstParent = firstParent
    self.environment = environment
    self.configFingerprint = configFingerprint
    self.commandLine = commandLine
    self.startedAt = startedAt
    self.host = host
    self.pool = pool
    self.creationToken = creationToken
  }
}

/// A stored hunt: what was asked, and how it ended once it has.
public struct HuntRecord: Sendable, Hashable, Identifiable {
  /// The database's id of the hunt, increasing with every new hunt in the file.
  public var id: Int64
  public var repositoryPath: String
  public var bad: String
  public var goods: [String]
  public var paths: [String]
  public var firstParent: Bool
  public var environment: String
  public var configFingerprint: String
  public var commandLine: String
  public var startedAt: Date
  /// The host that started it; empty for hunts stored before hosts were recorded.
  public var host: String
  /// True when `environment` names a pool (`--env-pool`).
  public var pool: Bool
  /// When the hunt ended; nil while it runs or after it was interrupted.
  public var endedAt: Date?
  /// How it ended, in the lead's words (e.g. "culprit abc123", "stopped"); nil while unfinished.
  public var outcome: String?

  /// True once the hunt has an outcome; an unfinished hunt is running, or interrupted and resumable.
  public var isFinished: Bool { outcome != nil }

  public init(
    id: Int64, repositoryPath: String, bad: String, goods: [String], paths: [String], firstParent: Bool,
    environment: String, configFingerprint: String, commandLine: String, startedAt: Date, host: String = "",
    pool: Bool = false, endedAt: Date? = nil, outcome: String? = nil
  ) {
    self.id = id
    self.repositoryPath = repositoryPath
    self.bad = bad
    self.goods = goods
    self.paths = paths
    self.firstParent = firstParent
    self.environment = environment
    self.configFingerprint = configFingerprint
    self.commandLine = commandLine
    self.startedAt = startedAt
    self.host = host
    self.pool = pool
    self.endedAt = endedAt
    self.outcome = outcome
  }
}

/// One deploy-and-test of one commit, as stored.
public struct StepRow: Sendable, Hashable {
  public var huntID: Int64
  /// 1, 2, 3... within the hunt; unique per hunt.
  public var number: Int
  /// The commit deployed, 40 hexadecimal digits.
  public var commit: String
  public var environment: String
  public var purpose: StepPurpose
  /// Nil when the step aborted the hunt (see `note`).
  public var verdict: Verdict?
  /// The test command's exit status; nil when it did not run or ended by a signal.
  public var exitCode: Int32?
  public var deploySeconds: Double?
  public var testSeconds: Double?
  /// The step's log file or folder.
  public var logPath: String?
  public var startedAt: Date
  public var endedAt: Date
  /// True when the verdict was taken from the verdict cache instead of being tested.
  public var reused: Bool
  /// Why the step aborted or skipped, when there is something to say.
  public var note: String?
  /// A dependency step (`dependency`, `dependency-check`): the dependency whose pin it wrote
  /// into the culprit's checkout; `commit` is then that dependency's commit.
  public var dependency: String?
  /// The revision the step wrote into the pin, as written.
  public var dependencyRevision: String?

  public init(
    huntID: Int64, number: Int, commit: String, environment: String, purpose: StepPurpose, verdict: Verdict?,
    exitCode: Int32? = nil, deploySeconds: Double? = nil, testSeconds: Double? = nil, logPath: String? = nil,
    startedAt: Date, endedAt: Date, reused: Bool = false, note: String? = nil, dependency: String? = nil,
    dependencyRevision: String? = nil
  ) {
    self.huntID = huntID
    self.number = number
    self.commit = commit
    self.environment = environment
    self.purpose = purpose
    self.verdict = verdict
    self.exitCode = exitCode
    self.deploySeconds = deploySeconds
    self.testSeconds = testSeconds
    self.logPath = logPath
    self.startedAt = startedAt
    self.endedAt = endedAt
    self.reused = reused
    self.note = note
    self.dependency = dependency
    self.dependencyRevision = dependencyRevision
  }
}

extension StepRow {
  /// True when `other` records the same step: what a retried write compares. Times are
  /// compared to the millisecond, which every store keeps.
  public func isSameRecord(as other: StepRow) -> Bool {
    func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
    return huntID == other.huntID && number == other.number && commit.lowercased() == other.commit.lowercased()
      && environment == other.environment && purpose == other.purpose && verdict == other.verdict
      && exitCode == other.exitCode && reused == other.reused && note == other.note && logPath == other.logPath
      && dependency == other.dependency && dependencyRevision == other.dependencyRevision
      && milliseconds(startedAt) == milliseconds(other.startedAt)
      && milliseconds(endedAt) == milliseconds(other.endedAt)
  }

  /// True for a step whose deploy failed in its environment and whose commit moved on: its
  /// `skip` is not the commit's verdict.
  public var moved: Bool { StepNote(note).moved }
}

/// A step's note (`StepRow.note`), made of parts separated by "; ": the one place that writes
/// and reads that text.
public struct StepNote: Sendable, Hashable {
  /// "moved: deploy failed from dev2": the environment whose deploy failed, the commit then
  /// handed to another one.
  public var movedFrom: String?
  /// "runs: bad,good,bad": each test run's verdict.
  public var runs: [Verdict]
  /// "tested again where deployed": the step ran the test only, in an environment that had
  /// its commit deployed already (`--flaky`).
  public var retest: Bool
  /// The other parts (why a step aborted, "stopped"), in order.
  public var others: [String]

  static let movedPrefix = "moved: deploy failed"
  static let runsPrefix = "runs: "
  static let retestText = "tested again where deployed"

  public init(movedFrom: String? = nil, runs: [Verdict] = [], retest: Bool = false, others: [String] = []) {
    self.movedFrom = movedFrom
    self.runs = runs
    self.retest = retest
    self.others = others
  }

  /// Reads a stored note back.
  public init(_ note: String?) {
    self.init()
    guard let note, !note.isEmpty else { return }
    for part in note.components(separatedBy: "; ") {
      if part.hasPrefix(Self.movedPrefix) {
        let rest = part.dropFirst(Self.movedPrefix.count)
        movedFrom = rest.hasPrefix(" from ") ? String(rest.dropFirst(" from ".count)) : ""
      } else if part == Self.retestText {
        retest = true
      } else if part.hasPrefix(Self.runsPrefix) {
        let words = part.dropFirst(Self.runsPrefix.count).split(separator: ",")
        let read = words.compactMap { Verdict(rawValue: $0.trimmingCharacters(in: .whitespaces)) }
        // A word that is not a verdict keeps the whole part as text: shown, never dropped.
        if read.count == words.count { runs = read } else { others.append(part) }
      } else {
        others.append(part)
      }
    }
  }

  /// The text to store; nil when there is nothing to say. `runs` are written when `withRuns`.
  public func text(withRuns: Bool) -> String? {
    var parts = [String]()
    if let movedFrom { parts.append(Self.movedPrefix + (movedFrom.isEmpty ? "" : " from \(movedFrom)")) }
    if retest { parts.append(Self.retestText) }
    parts += others
    if withRuns { parts.append(Self.runsPrefix + runs.map(\.rawValue).joined(separator: ",")) }
    return parts.isEmpty ? nil : parts.joined(separator: "; ")
  }

  /// The deploy failed and the commit moved to another environment.
  public var moved: Bool { movedFrom != nil }
}
