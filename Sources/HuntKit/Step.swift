import BisectEngine
import Foundation
import History
import Runner

/// How many times one step runs the smoke test, and how the runs make one verdict.
package struct TestRuns: Sendable, Hashable {
  package var count: Int
  package var rule: RepeatRule
  /// Stop as soon as the verdict cannot change (a majority reached, or a bad run under
  /// `any-bad`). Confirmation runs all of them, to report how many failed.
  package var stopEarly: Bool

  package static func of(_ configuration: Configuration) -> TestRuns {
    TestRuns(count: max(1, configuration.testRuns), rule: configuration.repeatRule, stopEarly: true)
  }

  /// The verdict of the runs so far, or nil when more runs could still change it.
  package func verdict(of runs: [Verdict], final: Bool) -> Verdict? {
    let bad = runs.count { $0 == .bad }
    let good = runs.count { $0 == .good }
    switch rule {
    case .anyBad:
      if bad > 0 { return .bad }
      guard final else { return nil }
      return good > 0 ? .good : .skip
    case .majority:
      // A majority of all the runs asked for decides; skipped runs count for neither side.
      let needed = count / 2 + 1
      if bad >= needed { return .bad }
      if good >= needed { return .good }
      guard final else { return nil }
      return bad > good ? .bad : good > bad ? .good : .skip
    }
  }
}

/// Deploys `record.commit` from `checkout` (with retries) and runs the smoke test `runs`
/// times, filling in the record's attempts, tests, command time and result. Shared by
/// hunts and nightly runs. With `deploy` false the commit is deployed in this environment
/// already (`--flaky` testing again): the test runs alone and the record says so.
func deployAndTest(
  _ record: inout StepRecord, checkout: URL, environment: [String: String], configuration: Configuration,
  runs: TestRuns, deploy shouldDeploy: Bool = true, stopper: HuntStopper, events: @Sendable (HuntEvent) -> Void,
  runCommand: CommandRunner
) async {
  let number = record.number
  let commit = record.commit
  if !shouldDeploy { record.retest = true }
  if shouldDeploy, let deploy = configuration.deployCommand {
    events(.phase(number: number, .deploying))
    var deployed = false
    for attempt in 0...configuration.deployRetries {
      let spec = CommandSpec(
        command: deploy, environment: environment, workingDirectory: checkout,
        logFile: record.logDirectory.appendingPathComponent("deploy\(attempt == 0 ? "" : "-retry\(attempt)").log"),
        timeout: configuration.deployTimeout, gracePeriod: configuration.gracePeriod, logLimit: configuration.logLimit)
      guard
        let result = await runStepCommand(
          spec, as: "deploy", into: \.deployAttempts, of: &record, stopper: stopper, runCommand: runCommand)
      else {
        return
      }
      if result.succeeded {
        deployed = true
        break
      }
    }
    if !deployed {
      switch configuration.deployFailure {
      case .skip: record.result = .verdict(.skip)
      case .abort:
        record.result = .abort("the deploy of \(commit.short()) failed \(record.deployAttempts.count) time(s)")
      }
      return
    }
  }
  events(.phase(number: number, .testing))
  for run in 1...runs.count {
    let spec = CommandSpec(
      command: configuration.testCommand ?? "false", environment: environment, workingDirectory: checkout,
      logFile: record.logDirectory.appendingPathComponent(run == 1 ? "test.log" : "test-\(run).log"),
      timeout: configuration.testTimeout, gracePeriod: configuration.gracePeriod, logLimit: configuration.logLimit)
    guard
      let result = await runStepCommand(
        spec, as: "test", into: \.tests, of: &record, stopper: stopper, runCommand: runCommand)
    else { return }
    switch TestVerdict(result.termination, timeoutPolicy: configuration.testTimeoutPolicy) {
    case .good: record.runVerdicts.append(.good)
    case .bad: record.runVerdicts.append(.bad)
    case .skip: record.runVerdicts.append(.skip)
    case .abort:
      record.result = .abort("the test of \(commit.short()) \(result.termination) (a status above 127 aborts the hunt)")
      return
    }
    if runs.stopEarly, let verdict = runs.verdict(of: record.runVerdicts, final: false) {
      record.result = .verdict(verdict)
      return
    }
  }
  record.result = .verdict(runs.verdict(of: record.runVerdicts, final: true) ?? .skip)
}

/// Runs one command of a step and files its result under `list`; nil when the step ends
/// here (the command could not start, or the hunt is stopping), with `record.result` set.
private func runStepCommand(
  _ spec: CommandSpec, as name: String, into list: WritableKeyPath<StepRecord, [CommandResult]>,
  of record: inout StepRecord, stopper: HuntStopper, runCommand: CommandRunner
) async -> CommandResult? {
  let result: CommandResult
  do {
    result = try await runCommand(spec, .stop)
  } catch {
    // The runner's message names the log or the variable at fault.
    record.result = .abort("cannot start the \(name) command: \(error.localizedDescription)")
    return nil
  }
  record[keyPath: list].append(result)
  record.commandTime += result.duration
  if result.termination == .cancelled || stopper.reason != nil {
    record.result = .stopped
    return nil
  }
  return result
}
