import ArgumentParser
import BisectEngine
import Foundation
import GitKit
import History
import HuntKit
import HuntStore
import Runner

/// Where the state is: options shared by the commands that read it.
struct StateOptions: ParsableArguments {
  // Optional so that help says the default once, in words.
  @Option(name: .customLong("repo"), help: "The repository, or any folder inside it. (default: the current folder)")
  var repoOption: String?

  /// The repository folder the user named, or the current folder.
  var repo: String { repoOption ?? "." }

  @Option(
    help:
      "The state: a file or a postgres:// URL. (default: BISECT_DEPLOY_STATE, else the configuration's state, else .git/bisect-deploy/state.sqlite)"
  )
  var state: String?

  func repository() throws -> Repository { try Repository(at: repo) }

  /// The state in force for `repository`: `--state`, `BISECT_DEPLOY_STATE`, `state:` in its
  /// configuration file, else the file in its git directory.
  func location(_ repository: Repository) throws -> StateLocation {
    let configuration = state == nil ? try Configuration.discover(explicit: nil, workTree: repository.workTree) : nil
    return stateLocation(try stateLocation(flag: state, configuration: configuration), in: repository)
  }

  /// Runs `body` with the store open.
  func withStore<T>(_ repository: Repository, _ body: (any StateStore) async throws -> T) async throws -> T {
    try await withStateStore(try location(repository), body)
  }

  /// The hunt `--hunt N` names, else the newest (on `environment`, when given). A number that
  /// names no hunt is an error naming it, never another hunt; no hunt at all exits `nothing`.
  func storedHunt(
    _ id: Int64?, in store: any StateStore, on environment: String? = nil, nothing: ExitStatus = .usage
  ) async throws -> HuntRecord {
    if let id {
      guard id > 0, let record = try await store.hunt(id: id) else {
        throw CommandFailure(
          message: "--hunt \(id): no such hunt in \(stateDescription). `bisect-deploy hunts` lists the hunts.",
          status: .usage)
      }
      return record
    }
    guard let environment else {
      guard let newest = try await store.hunts(limit: 1).first else {
        throw CommandFailure(message: "No hunt recorded in \(stateDescription).", status: nothing)
      }
      return newest
    }
    guard let newest = try await store.hunts(limit: 500).first(where: { Self.runs($0, on: environment) }) else {
      throw CommandFailure(message: "No hunt on '\(environment)' recorded in \(stateDescription).", status: nothing)
    }
    return newest
  }

  /// A hunt over several environments (or a pool) is stored under their joined names: any of
  /// them names it.
  static func runs(_ hunt: HuntRecord, on environment: String) -> Bool {
    hunt.environment == environment || hunt.environment.split(separator: ",").contains { $0 == environment }
  }

  private var stateDescription: String { state.map { "'\($0)'" } ?? "this repository's state" }

  /// Whether the hunt stored with `path` (as it was given, standardized) searched `repository`:
  /// the same git folder, once opened from here. A path this host cannot open is another's.
  static func isSameRepository(_ path: String, as repository: Repository) -> Bool {
    guard let stored = try? Repository(at: path) else { return false }
    func folder(_ text: String) -> String {
      URL(fileURLWithPath: text).standardizedFileURL.resolvingSymlinksInPath().path
    }
    return folder(stored.gitDirectory) == folder(repository.gitDirectory)
  }

  /// The unfinished hunt meant: `--hunt N`, else on `--env`, else the newest unfinished one.
  /// With `toContinue` (resume, reset, mark), a hunt that a process runs or waits for now is
  /// never chosen, and without `--hunt` only this host's hunts are: a shared database holds
  /// every host's, and a stopped hunt is continued from the folder it was started in. When
  /// there is none, the error exits `nothing`.
  func unfinishedHunt(
    in store: any StateStore, id: Int64? = nil, on env: String? = nil, toContinue: Bool = false,
    nothing: ExitStatus = .usage
  ) async throws -> HuntRecord {
    if let id {
      let record = try await storedHunt(id, in: store)
      guard !record.isFinished else {
        throw CommandFailure(
          message: "Hunt #\(id) is finished (\(readableOutcome(record.outcome ?? ""))).", status: .usage)
      }
      if toContinue, try await store.activeHunts().contains(id) {
        throw CommandFailure(message: "Hunt #\(id) is running now (on \(record.host.terminalSafe())).", status: .locked)
      }
      return record
    }
    var candidates = try await store.hunts(limit: 500).filter { !$0.isFinished }
    if let env {
      candidates = candidates.filter { Self.runs($0, on: env) }
      guard !candidates.isEmpty else {
        throw CommandFailure(message: "No unfinished hunt on '\(env)'.", status: nothing)
      }
    }
    if toContinue {
      // A shared database holds every repository's hunts: without --hunt, only this one's.
      let current = try repository()
      let mine = candidates.filter { Self.isSameRepository($0.repositoryPath, as: current) }
      if mine.isEmpty, let other = candidates.first {
        throw CommandFailure(
          message:
            "No unfinished hunt of this repository (\(current.workTree ?? current.gitDirectory)). Hunt #\(other.id) is of \(other.repositoryPath.terminalSafe()): continue it from there, or with --hunt \(other.id).",
          status: nothing)
      }
      candidates = mine
      let active = try await store.activeHunts()
      let here = ProcessIdentity.hostName
      let stopped = candidates.filter { !active.contains($0.id) }
      if let mine = stopped.first(where: { $0.host == here || $0.host.isEmpty }) { return mine }
      if !stopped.isEmpty {
        let others = stopped.prefix(5).map { "#\($0.id) (\($0.host.terminalSafe()))" }.joined(separator: ", ")
        throw CommandFailure(
          message: "No stopped hunt of this host (\(here)). Stopped hunts of other hosts: \(others); "
            + "continue one from its host's folder with --hunt N.",
          status: .usage)
      }
      if let running = candidates.first {
        throw CommandFailure(
          message:
            "Hunt #\(running.id) is running now (on \(running.host.isEmpty ? "this host" : running.host.terminalSafe())).",
          status: .locked)
      }
    }
    guard let hunt = candidates.first else {
      throw CommandFailure(
        message: "No unfinished hunt. Start one with bisect-deploy --good REV --bad REV.", status: nothing)
    }
    return hunt
  }
}

/// `--env`: the commands that pick a hunt take the newest one on that environment.
struct EnvironmentChoice: ParsableArguments {
  @Option(
    help: "Only a hunt on this environment counts (any of a hunt's environments names it). (default: any environment)")
  var env: String?
}

/// The hunt command stored with `hunt`, parsed again in the folder it was started from.
/// `repo` (the `--repo` given to `resume` or `reset`) wins over the stored one: another host
/// keeps its clone elsewhere, and there the folder the hunt was started in may not exist.
func storedHuntCommand(_ hunt: HuntRecord, repo: String? = nil) throws -> HuntCommand {
  guard let invocation = StoredInvocation(encoded: hunt.commandLine) else {
    throw CommandFailure(
      message: "Hunt #\(hunt.id) was not stored with its command line; start it again.", status: .usage)
  }
  // Absolute before the folder changes.
  let given = repo.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
  guard FileManager.default.changeCurrentDirectoryPath(invocation.directory) || given != nil else {
    throw CommandFailure(
      message:
        "Hunt #\(hunt.id) was started in '\(invocation.directory)', which is not here: pass --repo with this host's clone of the repository, or start it again.",
      status: .usage)
  }
  var command = try HuntCommand.parse(invocation.arguments)
  if let given { command.range.repoOption = given }
  command.arguments = invocation.arguments
  command.storedEnds = (hunt.bad, hunt.goods)
  return command
}

/// The commits `hunt` searched that `repository` no longer has (force-pushed away and
/// pruned), each with its part: "bad" or "good".
func goneCommits(of hunt: HuntRecord, in repository: Repository) -> [(part: String, hex: String)] {
  ([("bad", hunt.bad)] + hunt.goods.map { ("good", $0) }).filter { _, hex in
    guard let id = ObjectID(hex: hex) else { return true }
    return (try? repository.commit(id)) == nil
  }
}

/// "its bad commit 3e5ddf7… and its good commit 1a2b3c4…".
func describeGone(_ gone: [(part: String, hex: String)]) -> String {
  gone.map { "its \($0.part) commit \($0.hex)" }.joined(separator: " and ")
}

/// `bisect-deploy resume`: continues a hunt that was stopped (Ctrl-C, a crash, kill -9).
struct ResumeCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "resume",
    abstract: "Continue an unfinished hunt: recorded verdicts are kept, only the interrupted step runs again.")

  @OptionGroup var options: StateOptions
  @OptionGroup var place: EnvironmentChoice

  @Option(help: "The hunt to continue; bisect-deploy hunts lists them. (default: this host's newest stopped hunt)")
  var hunt: Int64?

  @Flag(help: "Print only the summary.")
  var quiet = false

  func run() async throws {
    let repository = try options.repository()
    let location = try options.location(repository)
    let hunt = try await withStateStore(location) { store in
      try await options.unfinishedHunt(in: store, id: self.hunt, on: place.env, toContinue: true)
    }
    let gone = goneCommits(of: hunt, in: repository)
    guard gone.isEmpty else {
      throw CommandFailure(
        message:
          "Hunt #\(hunt.id) cannot continue: \(describeGone(gone)) \(gone.count == 1 ? "is" : "are") no longer in the repository (force-pushed away and pruned?). Fetch \(gone.count == 1 ? "it" : "them") again (git fetch origin \(gone[0].hex)) and resume, or end the hunt with: bisect-deploy reset --hunt \(hunt.id)",
        status: .badRevision)
    }
    // Made absolute before the folder changes to the hunt's.
    let state = options.state.map(storedState)
    var command = try storedHuntCommand(hunt, repo: options.repoOption)
    if let state { command.state = state }
    command.resumeHuntID = hunt.id
    if quiet { command.quiet = true }
    try await command.run()
  }
}

/// `bisect-deploy reset`: ends an unfinished hunt and restores its environment.
struct ResetCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "reset", abstract: "End an unfinished hunt, restoring its environment as a finished hunt would.")

  @OptionGroup var options: StateOptions
  @OptionGroup var place: EnvironmentChoice

  @Option(help: "The hunt to end. (default: this host's newest stopped hunt)")
  var hunt: Int64?

  func run() async throws {
    let repository = try options.repository()
    let location = try options.location(repository)
    let hunt = try await withStateStore(location) { store in
      try await options.unfinishedHunt(in: store, id: self.hunt, on: place.env, toContinue: true)
    }
    // A hunt whose commits are gone can still be ended: nothing can be restored from them, so
    // the environment is left as it is, and said so.
    let gone = goneCommits(of: hunt, in: repository)
    if !gone.isEmpty {
      try await withStateStore(location) { store in
        try await store.finishHunt(id: hunt.id, outcome: "reset", endedAt: Date())
        _ = try await store.breakLeases(ofHunt: hunt.id)
      }
      print(
        "Hunt #\(hunt.id) reset. Not restored: \(describeGone(gone)) \(gone.count == 1 ? "is" : "are") no longer in the repository; the environment (\(hunt.environment.terminalSafe())) is left as it is."
      )
      return
    }
    let state = options.state.map(storedState)
    var command = try storedHuntCommand(hunt, repo: options.repoOption)
    if let state { command.state = state }
    command.resumeHuntID = hunt.id
    let request = try command.makeRequest()
    // As in a hunt: the first Ctrl-C lets the restore finish, a second one stops it.
    let stopper = HuntStopper()
    let trap = SignalTrap()
    defer { trap.stop() }
    let watcher = Task {
      for await signal in trap.signals { stopper.stop(.signal(signal.rawValue)) }
    }
    defer { watcher.cancel() }
    let report = try await resetHunt(
      request, stopper: stopper, events: { event in ProgressPrinter.printLine(event) }, openStore: openStateStore)
    guard report.restoreFailures.isEmpty, report.restoreResults.values.allSatisfy(\.succeeded) else {
      let next =
        report.outcome.isStopped
        ? "The hunt stays open: run bisect-deploy reset again." : "The hunt is ended: redeploy by hand."
      let why =
        report.restoreFailures.values.sorted()
        + report.restoreResults.filter { !$0.value.succeeded }.map {
          "\($0.key): the deploy \($0.value.termination)"
        }
      throw CommandFailure(
        message: "Hunt #\(hunt.id): the restore did not complete (\(why.joined(separator: "; "))). \(next)",
        status: .aborted)
    }
    print(
      "Hunt #\(hunt.id) reset."
        + (report.restoredTo.map { " Restored \(report.environment) to \($0.short())." } ?? ""))
  }
}

/// `bisect-deploy good|bad|skip <rev>`: a verdict given by hand inside the unfinished hunt.
struct MarkCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "mark", abstract: "Record a verdict by hand (also as: bisect-deploy good|bad|skip REV).")

  @Argument(help: "good, bad or skip.") var verdict: String
  @Argument(help: "The commit.") var revision: String
  @OptionGroup var options: StateOptions
  @OptionGroup var place: EnvironmentChoice

  func validate() throws {
    guard Verdict(rawValue: verdict) != nil else {
      throw ValidationError("The verdict must be good, bad or skip, not '\(verdict)'.")
    }
  }

  func run() async throws {
    let repository = try options.repository()
    let id = try repository.resolve(revision)
    let hunt = try await options.withStore(repository) { store in
      // A hunt that runs now would not see the verdict: refused, with who runs it.
      let hunt = try await options.unfinishedHunt(in: store, on: place.env, toContinue: true)
      let number = (try await store.steps(huntID: hunt.id).map(\.number).max() ?? 0) + 1
      try await store.recordStep(
        StepRow(
          huntID: hunt.id, number: number, commit: id.hex, environment: hunt.environment, purpose: .manual,
          verdict: Verdict(rawValue: verdict), startedAt: Date(), endedAt: Date(), note: "given by hand"))
      return hunt
    }
    print("Marked \(id.short()) \(verdict) in hunt #\(hunt.id). Continue with: bisect-deploy resume")
  }
}

/// `bisect-deploy log`: a hunt in the format of `git bisect log`, for `git bisect replay`.
struct LogCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "log", abstract: "Print a hunt as git bisect log does (git bisect replay accepts it).")

  @OptionGroup var options: StateOptions
  @OptionGroup var place: EnvironmentChoice
  @Option(help: "The hunt's number. (default: the newest)") var hunt: Int64?

  func run() async throws {
    let repository = try options.repository()
    let text = try await options.withStore(repository) { store in
      let record = try await options.storedHunt(hunt, in: store, on: place.env, nothing: .nothingToShow)
      let outcome = OutcomeText(record.outcome ?? "")
      let culprit = outcome.kind == OutcomeText.Kind.culprit ? outcome.commits.first : nil
      return try await store.gitBisectLog(huntID: record.id, firstBadCommit: culprit) { hex in
        ObjectID(hex: hex).flatMap { try? repository.commit($0).summary }
      }
    }
    print(text, terminator: "")
  }
}

/// `bisect-deploy hunts`: the history of hunts in this repository's state (every host's,
/// in a shared database), with the environments each running one holds.
struct HuntsCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "hunts", abstract: "List past and unfinished hunts (every host's, in a shared database).")

  @OptionGroup var options: StateOptions
  @Option(help: "How many, newest first.") var limit = 20

  func run() async throws {
    let repository = try options.repository()
    let lines = try await options.withStore(repository) { store in
      let leases = try await store.leases()
      var lines = [String]()
      for hunt in try await store.hunts(limit: limit) {
        let steps = try await store.steps(huntID: hunt.id)
        let reused = steps.filter(\.reused).count
        let host = hunt.host.isEmpty ? "" : " on \(hunt.host.terminalSafe())"
        let held = leases.filter { $0.holder.huntID == hunt.id && !$0.expired && !isHuntLease($0.environment) }
          .map(\.environment)
        let holding = held.isEmpty ? "" : " (holds \(held.joined(separator: ", ")))"
        let place = (hunt.pool ? "pool \(hunt.environment)" : hunt.environment).terminalSafe()
        lines.append(
          "#\(hunt.id) \(hunt.startedAt.formatted(.iso8601)) \(place)\(host) bad \(hunt.bad.prefix(10)) "
            + "\(steps.count) steps\(reused > 0 ? " (\(reused) reused)" : "") \(hunt.outcome.map(readableOutcome) ?? "unfinished")\(holding)"
        )
      }
      return lines
    }
    for line in lines { print(line) }
  }
}

/// `bisect-deploy status`: the unfinished hunt, its verdicts so far, and who holds its
/// environments.
struct StatusCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "status",
    abstract: "Show the unfinished hunt: its steps so far and who holds its environments (exit 9 when none is open).")

  @OptionGroup var options: StateOptions
  @OptionGroup var place: EnvironmentChoice
  @Option(help: "The hunt to show. (default: the newest unfinished one)") var hunt: Int64?

  func run() async throws {
    let repository = try options.repository()
    let lines = try await options.withStore(repository) { store in
      // Nothing open is an answer, not a mistake: its own exit code (9), not 64.
      let hunt = try await options.unfinishedHunt(in: store, id: self.hunt, on: place.env, nothing: .nothingToShow)
      var lines = [
        "Hunt #\(hunt.id) on \(hunt.pool ? "pool " : "")\(hunt.environment), started \(hunt.startedAt.formatted(.iso8601))"
          + (hunt.host.isEmpty ? "" : " on \(hunt.host.terminalSafe())"),
        "  bad \(hunt.bad)  good \(hunt.goods.joined(separator: " "))",
      ]
      let leases = try await store.leases().filter { $0.holder.huntID == hunt.id && !isHuntLease($0.environment) }
      if leases.isEmpty {
        lines.append(
          try await store.activeHunts().contains(hunt.id)
            ? "  waiting for an environment of the pool"
            : "  not running: continue with bisect-deploy resume, or end with bisect-deploy reset")
      }
      for lease in leases {
        let state =
          lease.expired
          ? "ran out (its holder stopped renewing it)"
          : ProcessIdentity.isGone(lease.holder.process)
            ? "held by a process that is gone (killed?): the next hunt there takes it over" : "held (running)"
        lines.append(
          "  lease: \(lease.environment.terminalSafe()) \(state) by pid \(lease.holder.pid) on \(lease.holder.host.terminalSafe()) since "
            + "\(lease.holder.acquiredAt.formatted(.iso8601)), until \(lease.holder.expiresAt.formatted(.iso8601))")
      }
      for step in try await store.steps(huntID: hunt.id) {
        let place = step.environment.isEmpty ? "" : " (\(step.environment))"
        lines.append(
          "  [\(step.number)] \(step.commit.prefix(10)) \(step.purpose.rawValue): "
            + "\(step.verdict?.rawValue ?? step.note ?? "-")\(place)")
      }
      return lines
    }
    for line in lines { print(line) }
  }
}

/// `bisect-deploy unlock ENV`: frees an environment whose lease outlived its hunt's process
/// (a lease whose holder stops renewing it is taken over when it runs out, and one of a dead
/// process on this machine at once; this is for people who know sooner).
struct UnlockCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "unlock",
    abstract: "Free an environment whose hunt is gone (for example, a CI job killed on another host).",
    discussion: """
      Every lease of the same hunt goes with it (a hunt over several environments holds one \
      per environment). The hunt itself stays: continue it with resume, or end it with reset. \
      A lease held by a live process on this machine is refused unless --force; a live hunt \
      elsewhere whose lease is freed stops at its next renewal.
      """)

  @Argument(help: "The environment whose lease to free (a name a hunt was given with --env or --env-pool).")
  var environment: String
  @Flag(help: "Free it even when its process is alive on this machine.") var force = false
  @OptionGroup var options: StateOptions

  func run() async throws {
    let repository = try options.repository()
    let environment = environment
    let force = force
    let message = try await options.withStore(repository) { store -> String in
      guard let holder = try await store.leaseHolder(environment: environment) else {
        return "No lease on '\(environment)'."
      }
      if ProcessIdentity.isRunningHere(holder.process) && !force {
        throw CommandFailure(
          message: "The lease of '\(environment)' belongs to process \(holder.pid) on this machine, which is still"
            + " running (hunt #\(holder.huntID)). Stop it with Ctrl-C, or pass --force if you are sure.",
          status: .locked)
      }
      let names = try await store.breakLeases(ofHunt: holder.huntID)
      return "Freed \(names.joined(separator: ", ")) held by process \(holder.pid) on \(holder.host.terminalSafe())"
        + " since \(holder.acquiredAt.formatted(.iso8601)) for hunt #\(holder.huntID)."
        + " Continue that hunt with bisect-deploy resume, or end it with bisect-deploy reset."
    }
    print(message)
  }
}

/// The `--state` value a resumed hunt keeps: a path made absolute (the hunt runs from the
/// folder it was started in), a URL as it is.
func storedState(_ given: String) -> String {
  if case .file(let path)? = try? StateLocation(parsing: given) {
    return URL(fileURLWithPath: path).standardizedFileURL.path
  }
  return given
}

/// A stored outcome as `hunts` shows it. Hunts stored by older versions wrote the engine's
/// conclusion in its Swift spelling (`contradiction goodFoundBad(...)`): those are put in words.
func readableOutcome(_ stored: String) -> String {
  let outcome = OutcomeText(stored)
  guard outcome.kind == .contradiction || outcome.kind == .nothingToSearch, !outcome.first.contains(":") else {
    return stored
  }
  let words: [String: String] = [
    "emptyRange": "bad is good or one of its ancestors: nothing to search",
    "noCandidate": "no commit in the range changes the given paths",
    "goodFoundBad": "a good commit tested bad", "badFoundGood": "a bad commit tested good",
    "fixedBetween": "a merge base is bad: the bug was fixed, not introduced",
  ]
  let detail = words.first { stored.contains($0.key) }?.value ?? "verdicts disagree"
  return "\(outcome.kind.rawValue): \(detail)"
}
