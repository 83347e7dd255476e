import ArgumentParser
import BisectEngine
import Foundation
import GitKit
import History
import HuntKit
import HuntStore
import Runner

/// Where the state database is: options shared by the commands that read it.
struct StateOptions: ParsableArguments {
  // Optional so that help says the default once, in words.
  @Option(name: .customLong("repo"), help: "The repository, or any folder inside it (default: the current folder).")
  var repoOption: String?

  /// The repository folder the user named, or the current folder.
  var repo: String { repoOption ?? "." }

  @Option(help: "The state database (default: .git/bisect-deploy/state.sqlite).")
  var state: String?

  @Option(help: "The environment whose hunt is meant (default: the newest unfinished hunt).")
  var env: String?

  func open() throws -> (repository: Repository, store: StateStore) {
    let repository = try Repository(at: repo)
    let store = try StateStore(path: state ?? StateStore.defaultPath(gitDirectory: repository.gitDirectory))
    return (repository, store)
  }

  /// The hunt `--hunt N` names, else the newest. A number that names no hunt is an error
  /// naming it, never another hunt.
  func storedHunt(_ id: Int64?, in store: StateStore) throws -> HuntRecord {
    if let id {
      guard id > 0, let record = try store.hunt(id: id) else {
        throw CommandFailure(
          message: "--hunt \(id): no such hunt in \(stateDescription). `bisect-deploy hunts` lists the hunts.",
          status: .usage)
      }
      return record
    }
    guard let newest = try store.hunts(limit: 1).first else {
      throw CommandFailure(message: "No hunt recorded in \(stateDescription).", status: .usage)
    }
    return newest
  }

  private var stateDescription: String { state.map { "'\($0)'" } ?? "this repository's state" }

  /// The unfinished hunt meant: on `--env`, else the newest unfinished one.
  func unfinishedHunt(in store: StateStore) throws -> HuntRecord {
    if let env {
      // A hunt over several environments is stored under their joined names: any of them
      // names it.
      let hunt =
        try store.unfinishedHunt(environment: env)
        ?? store.hunts(limit: 200).first {
          !$0.isFinished && $0.environment.split(separator: ",").contains { $0 == env }
        }
      guard let hunt else {
        throw CommandFailure(message: "No unfinished hunt on '\(env)'.", status: .usage)
      }
      return hunt
    }
    guard let hunt = try store.hunts(limit: 200).first(where: { !$0.isFinished }) else {
      throw CommandFailure(
        message: "No unfinished hunt. Start one with bisect-deploy --good REV --bad REV.", status: .usage)
    }
    return hunt
  }
}

/// The hunt command stored with `hunt`, parsed again in the folder it was started from.
func storedHuntCommand(_ hunt: HuntRecord) throws -> HuntCommand {
  guard let invocation = StoredInvocation(encoded: hunt.commandLine) else {
    throw CommandFailure(
      message: "Hunt #\(hunt.id) was not stored with its command line; start it again.", status: .usage)
  }
  guard FileManager.default.changeCurrentDirectoryPath(invocation.directory) else {
    throw CommandFailure(
      message: "Hunt #\(hunt.id) was started in '\(invocation.directory)', which is gone; start it again.",
      status: .usage)
  }
  var command = try HuntCommand.parse(invocation.arguments)
  command.arguments = invocation.arguments
  return command
}

/// `bisect-deploy resume`: continues a hunt that was stopped (Ctrl-C, a crash, kill -9).
struct ResumeCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "resume",
    abstract: "Continue an unfinished hunt: recorded verdicts are kept, only the interrupted step runs again.")

  @OptionGroup var options: StateOptions

  @Flag(help: "Print only the summary.")
  var quiet = false

  func run() async throws {
    let hunt = try options.unfinishedHunt(in: try options.open().store)
    var command = try storedHuntCommand(hunt)
    if let state = options.state { command.state = URL(fileURLWithPath: state).standardizedFileURL.path }
    if quiet { command.quiet = true }
    try await command.run()
  }
}

/// `bisect-deploy reset`: ends an unfinished hunt and restores its environment.
struct ResetCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "reset", abstract: "End an unfinished hunt, restoring its environment as a finished hunt would.")

  @OptionGroup var options: StateOptions

  func run() async throws {
    let hunt = try options.unfinishedHunt(in: try options.open().store)
    let command = try storedHuntCommand(hunt)
    let request = try command.makeRequest()
    // As in a hunt: the first Ctrl-C lets the restore finish, a second one stops it.
    let stopper = HuntStopper()
    let trap = SignalTrap()
    defer { trap.stop() }
    let watcher = Task {
      for await signal in trap.signals { stopper.stop(.signal(signal.rawValue)) }
    }
    defer { watcher.cancel() }
    let report = try await resetHunt(request, stopper: stopper) { event in ProgressPrinter.printLine(event) }
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
struct MarkCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "mark", abstract: "Record a verdict by hand (also as: bisect-deploy good|bad|skip REV).")

  @Argument(help: "good, bad or skip.") var verdict: String
  @Argument(help: "The commit.") var revision: String
  @OptionGroup var options: StateOptions

  func validate() throws {
    guard Verdict(rawValue: verdict) != nil else {
      throw ValidationError("The verdict must be good, bad or skip, not '\(verdict)'.")
    }
  }

  func run() throws {
    let (repository, store) = try options.open()
    let hunt = try options.unfinishedHunt(in: store)
    if let holder = try store.lockHolder(environment: hunt.environment), StateStore.isProcessAlive(holder.pid) {
      throw StoreError.locked(environment: hunt.environment, holder: holder)
    }
    let id = try repository.resolve(revision)
    let number = (try store.steps(huntID: hunt.id).map(\.number).max() ?? 0) + 1
    try store.recordStep(
      StepRow(
        huntID: hunt.id, number: number, commit: id.hex, environment: hunt.environment, purpose: .manual,
        verdict: Verdict(rawValue: verdict), startedAt: Date(), endedAt: Date(), note: "given by hand"))
    print("Marked \(id.short()) \(verdict) in hunt #\(hunt.id). Continue with: bisect-deploy resume")
  }
}

/// `bisect-deploy log`: a hunt in the format of `git bisect log`, for `git bisect replay`.
struct LogCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "log", abstract: "Print a hunt as git bisect log does (git bisect replay accepts it).")

  @OptionGroup var options: StateOptions
  @Option(help: "The hunt's number (default: the newest).") var hunt: Int64?

  func run() throws {
    let (repository, store) = try options.open()
    let record = try options.storedHunt(hunt, in: store)
    let outcome = OutcomeText(record.outcome ?? "")
    let culprit = outcome.kind == OutcomeText.Kind.culprit ? outcome.commits.first : nil
    let text = try store.gitBisectLog(huntID: record.id, firstBadCommit: culprit) { hex in
      ObjectID(hex: hex).flatMap { try? repository.commit($0).summary }
    }
    print(text, terminator: "")
  }
}

/// `bisect-deploy hunts`: the history of hunts in this repository.
struct HuntsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "hunts", abstract: "List past and unfinished hunts.")

  @OptionGroup var options: StateOptions
  @Option(help: "How many, newest first.") var limit = 20

  func run() throws {
    let (_, store) = try options.open()
    for hunt in try store.hunts(limit: limit) {
      let steps = try store.steps(huntID: hunt.id)
      let reused = steps.filter(\.reused).count
      print(
        "#\(hunt.id) \(hunt.startedAt.formatted(.iso8601)) \(hunt.environment) bad \(hunt.bad.prefix(10)) "
          + "\(steps.count) steps\(reused > 0 ? " (\(reused) reused)" : "") \(hunt.outcome.map(readableOutcome) ?? "unfinished")"
      )
    }
  }
}

/// `bisect-deploy status`: the unfinished hunt, its verdicts so far, and who holds the lock.
struct StatusCommand: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the unfinished hunt.")

  @OptionGroup var options: StateOptions

  func run() throws {
    let (_, store) = try options.open()
    let hunt = try options.unfinishedHunt(in: store)
    print("Hunt #\(hunt.id) on \(hunt.environment), started \(hunt.startedAt.formatted(.iso8601))")
    print("  bad \(hunt.bad)  good \(hunt.goods.joined(separator: " "))")
    if let holder = try store.lockHolder(environment: hunt.environment) {
      let alive = StateStore.isProcessAlive(holder.pid) ? "running" : "not running (stale lock)"
      print("  lock: pid \(holder.pid) on \(holder.host) since \(holder.startedAt.formatted(.iso8601)), \(alive)")
    } else {
      print("  not running: continue with bisect-deploy resume, or end with bisect-deploy reset")
    }
    for step in try store.steps(huntID: hunt.id) {
      print(
        "  [\(step.number)] \(step.commit.prefix(10)) \(step.purpose.rawValue): \(step.verdict?.rawValue ?? step.note ?? "-")"
      )
    }
  }
}

/// `bisect-deploy unlock ENV`: frees an environment whose lock outlived its hunt's process,
/// such as one held by a CI job on another host (a dead process on this host is detected and
/// taken over without this).
struct UnlockCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "unlock",
    abstract: "Remove the lock of an environment whose hunt is gone (for example, a CI job on another host).",
    discussion: """
      Every lock of the same hunt goes with it (a hunt over several environments holds one
      per environment). The hunt itself stays: continue it with resume, or end it with reset.
      A lock held by a live process on this machine is refused unless --force.
      """)

  @Argument(help: "The environment (as in --env).") var environment: String
  @Flag(help: "Remove the lock even when its process is alive on this machine.") var force = false
  @OptionGroup var options: StateOptions

  func run() throws {
    let (_, store) = try options.open()
    guard let holder = try store.lockHolder(environment: environment) else {
      print("No lock on '\(environment)'.")
      return
    }
    let here = holder.host == ProcessInfo.processInfo.hostName
    if here && StateStore.isProcessAlive(holder.pid) && !force {
      throw CommandFailure(
        message: "The lock of '\(environment)' belongs to process \(holder.pid) on this machine, which is still"
          + " running (hunt #\(holder.huntID)). Stop it with Ctrl-C, or pass --force if you are sure.",
        status: .locked)
    }
    let names = try store.breakLocks(ofHunt: holder.huntID)
    print(
      "Removed the lock(s) of \(names.joined(separator: ", ")) held by process \(holder.pid) on \(holder.host)"
        + " since \(holder.startedAt.formatted(.iso8601)) for hunt #\(holder.huntID)."
        + " Continue that hunt with bisect-deploy resume, or end it with bisect-deploy reset.")
  }
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
