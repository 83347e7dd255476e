import Foundation
import GitKit
import History
import HuntKit
import Runner
import Synchronization

/// How a hunt shows its progress, chosen from the flags and the terminal.
enum ProgressMode: Sendable, Equatable {
  /// Nothing but the summary.
  case quiet
  /// One line per phase on standard error (not a terminal, or --verbose).
  case lines
  /// One live status line on a terminal, with or without colour.
  case live(colour: Bool)
  /// JSON objects on standard output.
  case json
}

/// Turns hunt events into what the chosen mode prints. Events come from the hunt's task; the
/// state (step times for the ETA) sits behind a lock.
final class ProgressPrinter: Sendable {
  private struct State {
    var started = ContinuousClock.now
    var stepStarted = ContinuousClock.now
    var finishedSteps = 0
    var bisectSteps = 0
    var stepTime: Duration = .zero
    /// Search steps expected (`HuntEstimate.searchSteps`): the ETA counts down from them.
    var estimatedSearchSteps = 0
    var step = 0
    var remaining = 0
    var commit = ""
    var phase = ""
    var liveLineShown = false
    /// Steps running now, by number: environment and phase (several with several environments).
    var running: [Int: (environment: String, phase: String)] = [:]
  }

  let mode: ProgressMode
  private let state = Mutex(State())

  init(mode: ProgressMode) { self.mode = mode }

  static func mode(quiet: Bool, verbose: Bool, json: Bool) -> ProgressMode {
    if json { return .json }
    if quiet { return .quiet }
    if verbose || isatty(STDERR_FILENO) == 0 { return .lines }
    let noColour = ProcessInfo.processInfo.environment["NO_COLOR"].map { !$0.isEmpty } ?? false
    let dumb = ProcessInfo.processInfo.environment["TERM"] == "dumb"
    return .live(colour: !noColour && !dumb)
  }

  func handle(_ event: HuntEvent) {
    switch mode {
    case .quiet: return
    case .json: JSONEvents.emit(JSONEvents.object(for: event))
    case .lines: Self.printLine(event)
    case .live(let colour): live(event, colour: colour)
    }
  }

  /// Clears the live line before the summary.
  func finish() {
    guard case .live = mode else { return }
    state.withLock { state in
      if state.liveLineShown { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
      state.liveLineShown = false
    }
  }

  // MARK: Live status line

  private func live(_ event: HuntEvent, colour: Bool) {
    var permanent: String?
    state.withLock { state in
      switch event {
      case .started(let candidates, let estimate, let environment):
        state.estimatedSearchSteps = estimate.searchSteps
        state.remaining = candidates
        permanent = Self.startLine(candidates: candidates, estimate: estimate, environment: environment)
      case .stepStarted(let number, let commit, let remaining, _, let environment):
        state.step = number
        state.remaining = remaining
        state.commit = "\(commit.id.short()) \(commit.summary.terminalSafe())"
        state.stepStarted = .now
        state.phase = "starting"
        state.running[number] = (environment, "starting")
      case .phase(let number, let phase):
        state.phase = phase.rawValue
        state.running[number]?.phase = phase.rawValue
      case .environmentRetired(let name, let reason):
        permanent = "environment \(name) retired: \(reason)"
      case .waitingForEnvironment, .leaseTakenOver, .environmentsLeased:
        permanent = Self.leaseNote(event)
      case .stepFinished(let record):
        state.running[record.number] = nil
        if record.purpose == .bisect { state.bisectSteps += 1 }
        if !record.replayed {
          state.finishedSteps += 1
          state.stepTime += ContinuousClock.now - state.stepStarted
        }
        let verdict = Summary.describe(record.result)
        let painted = colour ? Self.paint(verdict) : verdict
        let note =
          record.replayed
          ? " (recorded before)"
          : record.reused
            ? " (reused)"
            : record.moved
              ? " (deploy failed on \(record.environment); moved)" : record.retest ? " (tested again, no deploy)" : ""
        let place = record.environment.isEmpty || record.replayed ? "" : " on \(record.environment)"
        let why = record.note.map { " (\($0.terminalSafe()))" } ?? ""
        permanent = "[\(record.number)] \(record.commit.short())\(place) \(painted)\(note)\(why)"
      case .restoring(let commit):
        state.phase = "restoring"
        state.commit = commit.map { "\($0.id.short()) \($0.summary.terminalSafe())" } ?? ""
      case .restored(let result):
        permanent = result.map { "restore: \($0.termination)" }
      case .dependencyBump(let bump):
        state.remaining = bump.candidates
        permanent = Self.bumpLine(bump)
      case .dependencyAnswer(let finding):
        permanent = Summary.dependencyLine(finding, culprit: nil)
      }
      var text = ""
      if state.liveLineShown { text += "\r\u{1B}[2K" }
      if let permanent { text += permanent + "\n" }
      text += statusLine(state, colour: colour)
      state.liveLineShown = true
      FileHandle.standardError.write(Data(text.utf8))
    }
  }

  private func statusLine(_ state: State, colour: Bool) -> String {
    let elapsed = ContinuousClock.now - state.started
    var eta = ""
    if state.finishedSteps > 0 {
      let mean = state.stepTime / state.finishedSteps
      let left = max(0, state.estimatedSearchSteps - state.bisectSteps)
      eta = " · ETA \(Self.clock(mean * left))"
    }
    let width = Self.terminalWidth()
    let phase = colour ? "\u{1B}[1m\(state.phase)\u{1B}[0m" : state.phase
    if state.running.count > 1 {
      // Several environments at once: where each running step is.
      let places = state.running.sorted { $0.key < $1.key }.map { "\($0.value.environment) \($0.value.phase)" }
      let line =
        "steps \(state.running.keys.min() ?? 0)–\(state.step) · \(state.remaining) left · "
        + places.joined(separator: ", ") + " · \(Self.clock(elapsed))"
      return String(line.prefix(width - 1))
    }
    let line =
      "step \(state.step) of ~\(max(state.step, state.estimatedSearchSteps + state.step - state.bisectSteps)) · \(state.remaining) left · "
      + "\(state.commit.prefix(48)) · \(phase) · \(Self.clock(elapsed))\(eta)"
    // The phase's escape codes take no room on screen.
    return String(line.prefix(width - 1 + (colour ? 8 : 0)))
  }

  /// The terminal's width in columns (standard error's), 80 when it cannot be told.
  static func terminalWidth() -> Int {
    var size = winsize()
    guard ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
    return Int(size.ws_col)
  }

  static func clock(_ duration: Duration) -> String {
    let seconds = Int(duration.components.seconds)
    return String(format: "%d:%02d", seconds / 60, seconds % 60)
  }

  static func paint(_ verdict: String) -> String {
    switch verdict {
    case "good": "\u{1B}[32mgood\u{1B}[0m"
    case "bad": "\u{1B}[31mbad\u{1B}[0m"
    case "skip": "\u{1B}[33mskip\u{1B}[0m"
    default: "\u{1B}[35m\(verdict)\u{1B}[0m"
    }
  }

  /// The hunt's first line: "bisect-deploy: 120 candidates, about 9 steps (2 endpoint checks,
  /// then about 7 to bisect), environment dev".
  static func startLine(candidates: Int, estimate: HuntEstimate, environment: String) -> String {
    "bisect-deploy: \(candidates) candidate\(candidates == 1 ? "" : "s"), \(estimate.sentence), environment \(environment)"
  }

  // MARK: Plain lines

  static func printLine(_ event: HuntEvent) {
    switch event {
    case .started(let candidates, let estimate, let environment):
      printError(startLine(candidates: candidates, estimate: estimate, environment: environment))
    case .stepStarted(let number, let commit, let remaining, let purpose, let environment):
      let why =
        switch purpose {
        case .verifyBad: "checking that bad is bad"
        case .verifyGood: "checking that good is good"
        case .bisect: "\(remaining) candidates left"
        case .manual: "given by hand"
        case .descend: "inside the merge, \(remaining) candidates left"
        case .confirm: "confirming"
        case .dependencyCheck: "the culprit with a dependency's pins as before, or one bumped alone"
        case .dependency: "inside the dependency, \(remaining) candidates left"
        case .revert: "bad with the culprit reverted"
        }
      let place = environment.isEmpty ? "" : " on \(environment)"
      printError("[\(number)] \(commit.id.short()) \(commit.summary) (\(why))\(place)")
    case .environmentRetired(let name, let reason):
      printError("environment \(name) retired: \(reason)")
    case .waitingForEnvironment, .leaseTakenOver, .environmentsLeased:
      if let note = leaseNote(event) { printError(note) }
    case .phase(let number, let phase):
      printError("[\(number)]   \(phase.rawValue)")
    case .stepFinished(let record) where record.replayed:
      printError(
        "[\(record.number)] \(record.commit.short()) => \(Summary.describe(record.result)) (recorded before, not run again)"
      )
    case .stepFinished(let record):
      let runs =
        record.runVerdicts.count > 1 ? " (runs: \(record.runVerdicts.map(\.rawValue).joined(separator: " ")))" : ""
      let moved = record.moved ? " (deploy failed on \(record.environment); trying another environment)" : ""
      let why = record.note.map { " (\($0))" } ?? ""
      let again = record.retest ? " (tested again, no deploy)" : ""
      let pin = record.dependency.map { " (\($0.name) at \(Summary.shortRevision($0.revision)))" } ?? ""
      printError(
        "[\(record.number)]   => \(Summary.describe(record.result))\(record.reused ? " (reused)" : "")\(again)\(pin)\(runs)\(moved)\(why)"
      )
      // The end of each command that failed: a failed deploy, or a test that did not pass.
      let failed =
        record.deployAttempts.filter { !$0.succeeded } + record.tests.filter { !$0.succeeded }
      for result in failed {
        let tail = logTail(result.logFile, lines: 6).split(separator: "\n")
          .filter { !$0.hasPrefix("[bisect-deploy ") }.joined(separator: "\n")
        printError("      \(result.logFile.path) (\(result.termination))" + (tail.isEmpty ? "" : ":\n" + indent(tail)))
      }
    case .restoring(let commit):
      if let commit { printError("restoring to \(commit.id.short()) \(commit.summary)") }
    case .restored(let result):
      if let result { printError("restore: \(result.termination)") }
    case .dependencyBump(let bump):
      printError(bumpLine(bump))
    case .dependencyAnswer(let finding):
      printError(Summary.dependencyLine(finding, culprit: nil))
    }
  }

  /// What the leases' events say to people.
  static func leaseNote(_ event: HuntEvent) -> String? {
    switch event {
    case .waitingForEnvironment(let ahead, let holders):
      let queue = ahead > 0 ? "\(ahead) hunts wait before this one" : "no environment is free"
      return "waiting for an environment (\(queue)): "
        + (holders.isEmpty ? "none held" : holders.joined(separator: "; "))
    case .leaseTakenOver(let taken):
      return taken.description
    case .environmentsLeased(let names):
      return "leased \(names.joined(separator: ", "))"
    default:
      return nil
    }
  }

  /// "bisect-deploy: the culprit bumps kubespawner dc41368 -> a8d943b: 12 commits to search in it".
  static func bumpLine(_ bump: DependencyBumpStart) -> String {
    "bisect-deploy: the culprit bumps \(bump.name) \(Summary.shortRevision(bump.old)) -> \(Summary.shortRevision(bump.new)): "
      + "\(bump.candidates) \(bump.revisions == "versions" ? "versions" : "commits") to search in it"
  }

  static func indent(_ text: String) -> String {
    text.split(separator: "\n", omittingEmptySubsequences: false).map { "        " + $0 }.joined(separator: "\n")
  }
}

extension HuntEstimate {
  /// The estimate in words, in steps (one deploy and test of one commit), as the summary
  /// counts them afterwards.
  var sentence: String {
    let checks = "\(endpointChecks) endpoint check\(endpointChecks == 1 ? "" : "s")"
    let search: String
    if flaky {
      search = "about \(searchRounds) test runs, more when the test lies"
    } else if parallel > 1 {
      search = "about \(searchRounds) round\(searchRounds == 1 ? "" : "s") of \(parallel)"
    } else {
      search = "about \(searchRounds) to bisect"
    }
    guard endpointChecks > 0 else { return "about \(steps) step\(steps == 1 ? "" : "s") (\(search))" }
    return "about \(steps) steps (\(checks), then \(search))"
  }
}
