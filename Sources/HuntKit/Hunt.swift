import BisectEngine
import Foundation
import GitKit
import History
import HuntStore
import Runner
import Synchronization

/// What the user asked for: the range, where, and how to deploy and test.
public struct HuntRequest: Sendable {
  public var repositoryPath: String
  public var bad: String
  public var goods: [String]
  public var configuration: Configuration
  /// Protected environments the user explicitly allowed (`--allow-protected NAME`).
  public var allowedProtected: Set<String>
  /// Where the state is (`--state`, `BISECT_DEPLOY_STATE`, `state:`); nil for the default
  /// file inside the repository's git directory.
  public var state: StateLocation?
  /// The stopped hunt to continue (`bisect-deploy resume --hunt N`); nil to find it by its
  /// settings.
  public var resumeHuntID: Int64?
  /// The arguments that started the hunt, stored so that `resume` can run it again.
  public var arguments: [String]

  public init(
    repositoryPath: String, bad: String, goods: [String], configuration: Configuration,
    allowedProtected: Set<String> = [], state: StateLocation? = nil, arguments: [String] = []
  ) {
    self.repositoryPath = repositoryPath
    self.bad = bad
    self.goods = goods
    self.configuration = configuration
    self.allowedProtected = allowedProtected
    self.state = state
    self.arguments = arguments
  }
}

/// Why a hunt stopped before its end.
public enum StopCause: Sendable, Hashable {
  /// SIGINT or SIGTERM reached the tool; the exit status is 128 + the signal number.
  case signal(Int32)
  /// `--max-duration` ran out.
  case deadline
  /// The hunt could not keep its lease on an environment (its database unreachable for
  /// longer than the lease, or the lease taken over or freed by `unlock`): it stops its
  /// steps and restores nothing, since another hunt may hold that environment now.
  case leaseLost(String)
}

/// Lets another task stop a running hunt and say why; the hunt's task is cancelled too.
///
/// The first stop ends the running steps and starts the restore; the restore runs to its end
/// (leaving an environment half-deployed is what it prevents), unless stopped again: a second
/// Ctrl-C or SIGTERM stops the restore too, as people expect of command-line tools.
public final class HuntStopper: Sendable {
  private struct State {
    var cause: StopCause?
    var signals = 0
    var actions: [@Sendable () -> Void] = []
  }
  private let state = Mutex(State())

  public init() {}

  /// Records why the hunt stops (the first cause wins), counts the signals, and runs what
  /// `whenStopped` registered.
  public func stop(_ reason: StopCause) {
    let actions = state.withLock { state in
      if state.cause == nil { state.cause = reason }
      if case .signal = reason { state.signals += 1 }
      return state.actions
    }
    for action in actions { action() }
  }

  /// Runs `action` at every stop from now on (the CLI cancels the hunt's task with it, also
  /// when the hunt itself stops, as on a lost lease).
  public func whenStopped(_ action: @escaping @Sendable () -> Void) {
    state.withLock { $0.actions.append(action) }
  }

  public var reason: StopCause? { state.withLock { $0.cause } }

  /// How many SIGINT or SIGTERM reached the hunt. Only people stop a restore: the deadline
  /// (`--max-duration`) starts the restore, it never cuts it short.
  public var signals: Int { state.withLock { $0.signals } }
}

/// Where and with which arguments a hunt was started: stored with the hunt, so that
/// `bisect-deploy resume` can start the same hunt again.
public struct StoredInvocation: Codable, Sendable, Hashable {
  public var directory: String
  public var arguments: [String]

  public init(directory: String, arguments: [String]) {
    self.directory = directory
    self.arguments = arguments
  }

  /// JSON text, as the state database keeps it.
  public var encoded: String {
    String(decoding: (try? JSONEncoder().encode(self)) ?? Data(), as: UTF8.self)
  }

  /// Reads the stored form back; nil for a hunt stored by hand or by another version.
  public init?(encoded: String) {
    guard let value = try? JSONDecoder().decode(StoredInvocation.self, from: Data(encoded.utf8)) else { return nil }
    self = value
  }
}

/// What a hunt expects to run before it starts. A step is one deploy and test of one commit
/// in one environment (the word means that everywhere: progress, summary, JSON, reports); a
/// round is the steps that run at the same time, one per environment.
public struct HuntEstimate: Sendable, Hashable {
  /// Steps that check the endpoints first: bad, then each good (0 when that is turned off).
  public var endpointChecks: Int
  /// Rounds the search is expected to take (ceil(log_{k+1} N), merge bases first); with
  /// `flaky`, test runs (more when the test lies).
  public var searchRounds: Int
  /// Environments used at once: steps per round.
  public var parallel: Int
  /// The probabilistic mode (`--flaky`).
  public var flaky: Bool

  public init(endpointChecks: Int, searchRounds: Int, parallel: Int, flaky: Bool) {
    self.endpointChecks = endpointChecks
    self.searchRounds = searchRounds
    self.parallel = max(1, parallel)
    self.flaky = flaky
  }

  /// Steps of the search: at most one per environment per round.
  public var searchSteps: Int { searchRounds * parallel }
  /// Every step expected, endpoint checks included: what the summary's "Steps" then counts.
  public var steps: Int { endpointChecks + searchSteps }
}

/// One phase of a step.
public enum Phase: String, Sendable, Hashable {
  case exporting, deploying, testing, restoring
}

/// Progress a hunt reports as it goes, for the terminal or for machines.
public enum HuntEvent: Sendable {
  /// `environment` names every environment of the hunt, comma-separated.
  case started(candidates: Int, estimate: HuntEstimate, environment: String)
  /// Steps of one round start one after another and run at the same time, one per environment.
  case stepStarted(number: Int, commit: CommitInfo, remaining: Int, purpose: StepRecord.Purpose, environment: String)
  /// An environment is left out of the rest of the hunt (it failed deploys that worked elsewhere).
  case environmentRetired(String, reason: String)
  /// No environment is free yet: `ahead` hunts wait before this one; `holders` says who has
  /// the environments ("dev1: hunt 12 (pid … on runner-2 …)").
  case waitingForEnvironment(ahead: Int, holders: [String])
  /// A lease whose holder stopped renewing it (or whose process is gone) was taken over.
  case leaseTakenOver(TakenOver)
  /// The environments this hunt holds, leased from the pool or as named.
  case environmentsLeased([String])
  case phase(number: Int, Phase)
  case stepFinished(StepRecord)
  case restoring(CommitInfo?)
  case restored(CommandResult?)
  /// `--descend-deps`: the search inside a dependency whose pin the culprit bumped begins.
  case dependencyBump(DependencyBumpStart)
  /// `--descend-deps`: what the descent into one dependency concluded.
  case dependencyAnswer(DependencyFinding)
}

/// One deploy-and-test of one commit, as it happened.
public struct StepRecord: Sendable {
  /// History's `StepPurpose`: one definition for the hunt, the store and the reports.
  public typealias Purpose = StepPurpose

  /// What the step concluded.
  public enum Result: Sendable, Hashable {
    case verdict(Verdict)
    /// The test exited above 127, or a deploy failed under `deploy_failure.then: abort`.
    case abort(String)
    /// The step was stopped (signal or deadline) before it could decide.
    case stopped
  }

  public var number: Int
  public var commit: ObjectID
  public var purpose: Purpose
  /// The environment the step ran in (empty for verdicts that ran nowhere).
  public var environment = ""
  public var deployAttempts: [CommandResult] = []
  /// Every run of the smoke test (more than one with `repeat: N` or `--confirm N`).
  public var tests: [CommandResult] = []
  /// What each run of the test said, in order.
  public var runVerdicts: [Verdict] = []
  public var result: Result = .stopped
  /// The deploy failed here and the commit was handed to another environment: the skip
  /// verdict of this step is not the commit's.
  public var moved = false
  /// Time spent in the deploy and test commands themselves.
  public var commandTime: Duration = .zero
  /// True when the verdict came from an earlier hunt's verdict cache, not from a test.
  public var reused = false
  /// True when the verdict was recorded before the tool was stopped and is replayed.
  public var replayed = false
  /// Why a step ended with a verdict no command gave (a commit that cannot be checked out
  /// is skipped): stored with the step and shown.
  public var note: String?
  /// Time of the whole step, export and bookkeeping included.
  public var totalTime: Duration = .zero
  public var logDirectory: URL
  /// A dependency step (`--descend-deps`): the pin written into the culprit's checkout;
  /// `commit` is then the dependency's commit, not the repository's.
  public var dependency: DependencyPin?
  /// The commit was deployed in this environment already (`--flaky` tests again where that
  /// pays): the step ran the test only.
  public var retest = false
  /// For a replayed step, the deploy and test seconds as stored (its commands' results are not).
  package var storedSeconds: (deploy: Double?, test: Double?)?

  /// A step that has not run yet: its result is `.stopped` until it ends.
  package init(number: Int, commit: ObjectID, purpose: Purpose, logDirectory: URL) {
    self.number = number
    self.commit = commit
    self.purpose = purpose
    self.logDirectory = logDirectory
  }

  /// The last run of the test.
  public var test: CommandResult? { tests.last }

  /// True when every deploy attempt failed (or timed out).
  public var deployFailed: Bool {
    !deployAttempts.isEmpty && !deployAttempts.contains(where: \.succeeded)
  }

  /// Seconds in the deploy command, all attempts; nil when no deploy ran.
  public var deploySeconds: Double? {
    if let storedSeconds { return storedSeconds.deploy }
    return deployAttempts.isEmpty ? nil : Self.seconds(deployAttempts.reduce(.zero) { $0 + $1.duration })
  }

  /// Seconds in the test command, all runs; nil when no test ran.
  public var testSeconds: Double? {
    if let storedSeconds { return storedSeconds.test }
    return tests.isEmpty ? nil : Self.seconds(tests.reduce(.zero) { $0 + $1.duration })
  }

  private static func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
  }
}

/// How a hunt ended.
public enum HuntOutcome: Sendable, Hashable {
  case culprit(ObjectID)
  case culpritAmong([ObjectID])
  /// `bad` tested good: nothing to find.
  case noRegression
  /// A good endpoint tested bad, or the verdicts contradict each other.
  case contradiction(Conclusion)
  /// Nothing could be blamed (empty range, or no commit changes the paths).
  case nothingToSearch(Conclusion)
  case aborted(String)
  case stopped(StopCause)

  /// True when the hunt was stopped and stays open for `resume`.
  public var isStopped: Bool {
    if case .stopped = self { return true }
    return false
  }
}

/// Everything a summary or report needs about a finished hunt.
public struct HuntReport: Sendable {
  public var outcome: HuntOutcome
  public var bad: ObjectID
  public var goods: [ObjectID]
  public var environment: String
  public var candidateCount: Int
  public var steps: [StepRecord]
  public var duration: Duration
  public var restoredTo: ObjectID?
  public var restoreResult: CommandResult?
  public var logDirectory: URL
  /// The commit facts for every commit the report names (culprits, tested commits).
  public var commits: [ObjectID: CommitInfo]
  /// The merge on bad's first-parent line that brought the culprit in (nil when the culprit
  /// is itself on that line, or there is no single culprit).
  public var culpritMerge: ObjectID?
  /// The files the culprit changed against its first parent.
  public var culpritFiles: [FileChange] = []
  /// The hunt's number in the state database (`bisect-deploy report --hunt N`).
  public var huntID: Int64 = 0
  /// Every environment the hunt used, in order (`environment` joins them).
  public var environments: [String] = []
  /// How each environment's restore ended, by name.
  public var restoreResults: [String: CommandResult] = [:]
  /// Environments whose restore could not even start (the checkout or the command failed).
  public var restoreFailures: [String: String] = [:]
  /// Environments left out during the hunt, with why.
  public var retiredEnvironments: [String: String] = [:]
  /// `--descend`: the merge the first-parent search found and what the search inside it said.
  public var descent: Descent?
  /// `--confirm N`: the culprit and its parents tested again.
  public var confirmation: Confirmation?
  /// `--confirm-revert`: bad with the culprit reverted, deployed and tested.
  public var revert: RevertProof?
  /// The probabilistic mode's last word: the culprit's probability and the runner-up.
  public var flaky: FlakySummary?
  /// `--descend-deps`: for each pin the culprit changed, what the search inside it found.
  public var dependencies: [DependencyFinding] = []
  /// `--descend-deps` read the culprit's pins (`dependencies` is empty when it changed none).
  public var dependenciesSearched = false
  /// With nothing to search: bad is an ancestor of a good commit (not equal to it), so the
  /// user most likely swapped --good and --bad.
  public var endpointsSwapped = false
  /// The outcome could not be stored: the hunt stays open in the state database (exit 74).
  public var stateFailure: String?

  /// The steps that ended with a verdict or an abort, as the state stores them: what every
  /// count of a hunt's steps says (summary, `--json`, `hunts`, reports). A step stopped before
  /// it decided is not one of them: `resume` runs it again.
  public var decidedSteps: [StepRecord] { steps.filter { $0.result != .stopped } }

  /// The tool's own time per step: everything but the deploy and test commands.
  public var overheadPerStep: Duration {
    let run = steps.filter { !$0.replayed && !$0.reused }
    guard !run.isEmpty else { return .zero }
    let own = run.reduce(Duration.zero) { $0 + ($1.totalTime - $1.commandTime) }
    return own / run.count
  }
}

/// What `--descend` found inside the merge that the first-parent search blamed.
public struct Descent: Sendable, Hashable {
  /// The merge on the first-parent line that brought the regression.
  public var merge: ObjectID
  /// The commit inside the merge that broke it, when the inner search named one.
  public var commit: ObjectID?
  /// Why the merge itself is the answer, when it is.
  public var note: String?
  /// How many commits the merge brought in (the inner search's candidates).
  public var innerCandidates: Int
}

/// `--confirm N`: the culprit and each of its parents, tested N more times each.
public struct Confirmation: Sendable, Hashable {
  public struct Tally: Sendable, Hashable {
    public var commit: ObjectID
    public var bad: Int
    public var good: Int
    public var skipped: Int
  }
  /// The probabilistic mode's view of a test's answers: how often they are wrong, and how
  /// sure an answer must be.
  public struct Model: Sendable, Hashable {
    /// How often a good commit's test fails.
    public var falseBad: Double
    /// How often a bad commit's test passes.
    public var falseGood: Double
    /// The probability the hunt asked for (`--confidence`).
    public var confidence: Double

    public init(falseBad: Double, falseGood: Double, confidence: Double) {
      self.falseBad = falseBad
      self.falseGood = falseGood
      self.confidence = confidence
    }

    /// The probability that a commit is bad given its runs, from even odds: a bad commit's
    /// run fails with 1 - falseGood, a good one's with falseBad (each rate kept within
    /// 0.001 and 0.499, so that no single answer is ever certain).
    public func probabilityBad(_ tally: Tally) -> Double {
      let falseBad = min(max(self.falseBad, 0.001), 0.499)
      let falseGood = min(max(self.falseGood, 0.001), 0.499)
      let ifBad = Double(tally.bad) * log(1 - falseGood) + Double(tally.good) * log(falseGood)
      let ifGood = Double(tally.bad) * log(falseBad) + Double(tally.good) * log(1 - falseBad)
      return 1 / (1 + exp(ifGood - ifBad))
    }
  }

  public var culprit: Tally
  public var parents: [Tally]
  /// Set under `--flaky`: the confirmation is judged by the same model as the search.
  public var model: Model?

  public init(culprit: Tally, parents: [Tally], model: Model? = nil) {
    self.culprit = culprit
    self.parents = parents
    self.model = model
  }

  /// Without a model, true when every run on the culprit failed and every run on its parents
  /// passed. Under `--flaky`, where a good commit fails now and then, true when the runs make
  /// the culprit bad and each parent good with at least the confidence asked.
  public var holds: Bool {
    guard let model else {
      return culprit.bad > 0 && culprit.good == 0 && parents.allSatisfy { $0.bad == 0 && $0.good > 0 }
    }
    return model.probabilityBad(culprit) >= model.confidence
      && parents.allSatisfy { 1 - model.probabilityBad($0) >= model.confidence }
  }
}

/// The probabilistic mode's answer.
public struct FlakySummary: Sendable, Hashable {
  public var culprit: ObjectID
  public var probability: Double
  public var runnerUp: ObjectID?
  public var runnerUpProbability: Double?
  /// Why it stopped: `FlakyConclusion.Reason`'s raw value (`confident`, `no-regression`,
  /// `budget-spent`, `nothing-testable`).
  public var reason: String
  public var testRuns: Int
  public var confidence: Double
  /// How often a good commit's run fails (the share before the culprit), and how often a bad
  /// commit's run passes (1 - the share from the culprit on): estimated, or as configured.
  public var falseBad: Double
  public var falseGood: Double
  /// The probability that there is no regression at all.
  public var noRegression: Double
  /// The share of runs that fail everywhere, if there is no regression.
  public var sameRate: Double
  /// Deploys spent by the whole hunt so far (a run where the commit was deployed is none).
  public var deploys: Int
  /// The runs at the bad endpoint and at the good ones.
  public var badEnd: RunTally
  public var goodEnd: RunTally

  public init(
    culprit: ObjectID, probability: Double, runnerUp: ObjectID?, runnerUpProbability: Double?, reason: String,
    testRuns: Int, confidence: Double, falseBad: Double, falseGood: Double, noRegression: Double = 0,
    sameRate: Double = 0, deploys: Int = 0, badEnd: RunTally = RunTally(fails: 0, runs: 0),
    goodEnd: RunTally = RunTally(fails: 0, runs: 0)
  ) {
    self.culprit = culprit
    self.probability = probability
    self.runnerUp = runnerUp
    self.runnerUpProbability = runnerUpProbability
    self.reason = reason
    self.testRuns = testRuns
    self.confidence = confidence
    self.falseBad = falseBad
    self.falseGood = falseGood
    self.noRegression = noRegression
    self.sameRate = sameRate
    self.deploys = deploys
    self.badEnd = badEnd
    self.goodEnd = goodEnd
  }

  /// The share of runs that fail from the culprit on.
  public var failsAfter: Double { 1 - falseGood }
  /// The share of runs that fail before the culprit.
  public var failsBefore: Double { falseBad }
  /// The search ended saying there is no regression.
  public var saysNoRegression: Bool { reason == "no-regression" }
}

/// Errors that stop a hunt before it starts.
public enum HuntError: Error, Sendable, LocalizedError {
  case git(GitError)
  case configuration(ConfigurationError)
  case workspace(path: String, reason: String)
  case originalUnknown(command: String, output: String)
  /// The revision `restore` names cannot be resolved: refused before anything is deployed.
  case restoreTarget(revision: String, GitError)
  case store(StoreError)
  /// Another hunt on this environment was started and not finished, with other settings.
  case unfinishedHunt(id: Int64, environment: String, bad: String, startedAt: Date)
  /// No environment of the pool became free in time; `example` is one holder as a store
  /// error, for its words.
  case noFreeEnvironment(pool: [String], waited: Duration, ahead: Int, holders: [String], example: StoreError?)
  /// Ctrl-C or SIGTERM came while the hunt waited for an environment: nothing was deployed.
  case stoppedWaiting(StopCause)
  /// The stopped hunt to continue was started with other settings than its stored command
  /// line gives now (the configuration file, the range or the environments changed).
  case changedSinceStopped(id: Int64)
  /// A dependency's `repo:` (or the tool's clone of its `url:`) cannot be opened.
  case dependencyRepository(name: String, path: String, GitError)
  /// A dependency's `url:` cannot be cloned or fetched.
  case dependencyFetch(name: String, url: String, reason: String)
  /// A dependency step cannot write the pin into the culprit's checkout.
  case pinRewrite(dependency: String, path: String, reason: String)

  public var errorDescription: String? {
    switch self {
    case .git(let error): error.errorDescription
    case .configuration(let error): error.errorDescription
    case .workspace(let path, let reason): "Cannot prepare the workspace '\(path)': \(reason)."
    case .originalUnknown(let command, let output):
      "restore.original_command (\(command)) did not print a revision this repository knows (last line: '\(output)')."
    case .restoreTarget(let revision, let error):
      "The restore target '\(revision)' (restore in the configuration, or --restore) cannot be used: "
        + "\(error.errorDescription ?? "\(error)") Name a tag, branch or commit of this repository, or good, original or none."
    case .store(let error): error.errorDescription
    case .unfinishedHunt(let id, let environment, let bad, let startedAt):
      "Hunt #\(id) on '\(environment)' (bad \(bad.prefix(10)), started \(startedAt.formatted(.iso8601))) was not finished. Continue it with `bisect-deploy resume`, or end it with `bisect-deploy reset`."
    case .noFreeEnvironment(let pool, let waited, let ahead, let holders, _):
      "No environment of the pool \(pool.joined(separator: ", ")) became free within \(format(waited))"
        + (ahead > 0 ? " (\(ahead) hunts were waiting before this one)" : "")
        + (holders.isEmpty ? "" : "; held: " + holders.joined(separator: "; "))
        + ". Wait longer with --wait-for-env DURATION, or free one (bisect-deploy unlock ENV for a hunt that is gone)."
    case .stoppedWaiting:
      "Stopped while waiting for an environment; nothing was deployed."
    case .changedSinceStopped(let id):
      "Hunt #\(id) was started with other settings than its command line gives now (the configuration file, the range or the environments changed): restore them to continue it, or end it with `bisect-deploy reset --hunt \(id)`."
    case .dependencyRepository(let name, let path, let error):
      "The history of dependency '\(name)' cannot be opened at '\(path)': \(error.errorDescription ?? "\(error)") "
        + "Point its 'repo:' at a clone of it (see docs/dependencies.md)."
    case .dependencyFetch(let name, let url, let reason):
      "The history of dependency '\(name)' cannot be fetched from '\(shown(url))': \(shown(reason)). Check the URL and the network, "
        + "or give 'repo: PATH' of a local clone instead."
    case .pinRewrite(let dependency, let path, let reason):
      "Cannot write the pin of '\(dependency)' into '\(path)' in the checkout: \(reason)."
    }
  }
}

extension HuntRequest {
  /// The environment to deploy to, after the checks every run makes: a test is configured,
  /// the environment exists, and a protected one was allowed by name.
  func checkedEnvironment() throws(HuntError) -> DeployEnvironment {
    try checkedEnvironments()[0]
  }

  /// Every environment the hunt deploys to, after the same checks.
  func checkedEnvironments() throws(HuntError) -> [DeployEnvironment] {
    guard configuration.testCommand != nil else { throw .configuration(.missingTest) }
    if let problem = configuration.dependencyProblem() { throw .configuration(.conflict(problem)) }
    if let conflict = configuration.conflict { throw .configuration(conflict) }
    let lease = configuration.leaseDuration
    let needed = configuration.leaseRenewal + configuration.leaseSafetyMargin
    guard lease > needed else {
      throw .configuration(
        .conflict(
          "lease.duration (\(lease)) must be longer than lease.renew plus timeouts.grace plus 1 s (\(needed)): a hunt that cannot renew its leases stops its steps that long before they run out."
        ))
    }
    let environments: [DeployEnvironment]
    do {
      environments = try configuration.environmentsInUse()
    } catch {
      throw .configuration(error)
    }
    for environment in environments where environment.isProtected && !allowedProtected.contains(environment.name) {
      throw .configuration(.protectedEnvironment(environment.name))
    }
    return environments
  }
}

/// What every command learns about its step, on top of the tool's own environment and the
/// deploy environment's variables. Commit data reaches commands only here, never in the
/// command text.
func stepVariables(
  repository: Repository, environment: DeployEnvironment, commit: ObjectID, checkout: URL, step: Int, phase: String
) -> [String: String] {
  var variables = ProcessInfo.processInfo.environment
  for (key, value) in environment.variables { variables[key] = value }
  variables["BISECT_COMMIT"] = commit.hex
  variables["BISECT_SHORT"] = repository.shortName(commit)
  variables["BISECT_CHECKOUT"] = checkout.path
  variables["BISECT_ENVIRONMENT"] = environment.name
  variables["BISECT_STEP"] = String(step)
  variables["BISECT_PHASE"] = phase
  variables["BISECT_REPO"] =
    URL(fileURLWithPath: repository.workTree ?? repository.gitDirectory).standardizedFileURL.path
  return variables
}

/// A dependency's URL as messages show it: a token written into it (`https://TOKEN@host/…`)
/// is a secret, so what stands before its `@` is masked.
private func shown(_ text: String) -> String {
  PostgresLocation.maskingCredentials(text)
}
