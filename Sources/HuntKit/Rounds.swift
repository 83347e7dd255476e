import BisectEngine
import Foundation
import GitKit
import History
import HuntStore
import Runner

extension HuntSession {
  /// One commit to deploy and test, and why.
  package typealias Job = (commit: ObjectID, purpose: StepRecord.Purpose)

  /// Deploys and tests `jobs` at the same time, one per free environment (more jobs than
  /// environments wait for the first one to free up), and returns their records in the
  /// order of `jobs`. Each verdict is stored the moment its step ends.
  ///
  /// A commit whose deploy fails in one environment moves to another it has not failed in;
  /// only when it failed everywhere is it skipped. An environment whose deploys failed twice
  /// for commits that then deployed elsewhere is retired for the rest of the hunt (never the
  /// last one). Recorded steps are replayed, not run again; cached verdicts stand in for
  /// tests (`reuse_verdicts`). After a stop, jobs not finished come back `.stopped`.
  ///
  /// `testAgainIn[i]`, when given, names the environment where job `i`'s commit is deployed
  /// already: the job waits for that environment and runs the test only, when this process
  /// deployed the commit there itself (otherwise it deploys it first, as any job).
  package mutating func runRound(_ jobs: [Job], runs: TestRuns? = nil, testAgainIn: [String?] = []) async
    -> [StepRecord]
  {
    let runs = runs ?? TestRuns.of(configuration)
    var results = [StepRecord?](repeating: nil, count: jobs.count)
    var waiting = [Int]()
    for (index, job) in jobs.enumerated() {
      if let record = replayed(job) {
        results[index] = record
      } else if let record = await reused(job) {
        results[index] = record
      } else {
        waiting.append(index)
      }
    }
    guard !waiting.isEmpty else { return results.map { $0! } }

    // Once a step aborts the hunt, nothing more starts; running steps finish and are stored.
    var abortion: String?
    let runCommand = self.runCommand
    await withTaskGroup(of: RanStep.self) { group in
      var leases = RunningLeases(count: pool.all.count)
      while true {
        // Start what can start: each waiting job in the first free environment it did not
        // fail in (the pool decides).
        var position = 0
        while position < waiting.count, stopper.reason == nil, abortion == nil {
          let index = waiting[position]
          let pinned = index < testAgainIn.count ? testAgainIn[index] : nil
          let stays = pinned.map { name in pool.active.contains { $0.name == name } } ?? false
          guard let lease = stays ? pool.lease(named: pinned!) : pool.lease(for: jobs[index].commit) else {
            position += 1
            continue
          }
          let retest = stays && pool.hasDeployed(jobs[index].commit, in: lease.environment.name)
          waiting.remove(at: position)
          let environment = lease.environment
          let stepStarted = ContinuousClock.now
          switch start(jobs[index], in: environment) {
          case .failure(let failure):
            pool.giveBack(lease)
            let finished = await finish(failure.record, started: stepStarted)
            if case .abort(let why) = finished.result, abortion == nil { abortion = why }
            results[index] = finished
          case .success(let prepared):
            leases.hold(lease, in: pool.position(of: environment.name)!)
            let configuration = configuration
            let stopper = stopper
            let events = events
            group.addTask {
              var record = prepared.record
              await deployAndTest(
                &record, checkout: prepared.checkout, environment: prepared.variables,
                configuration: configuration, runs: runs, deploy: !retest, stopper: stopper, events: events,
                runCommand: runCommand)
              return RanStep(index: index, record: record, started: stepStarted)
            }
          }
        }
        guard let ran = await group.next() else { break }
        let (index, record, stepStarted) = (ran.index, ran.record, ran.started)
        if let slot = pool.position(of: record.environment), let lease = leases.release(slot) {
          pool.giveBack(lease)
        }
        if shouldMove(record) {
          var moved = record
          moved.moved = true
          pool.deployFailed(record.commit, in: record.environment)
          _ = await finish(moved, started: stepStarted)
          waiting.append(index)
          continue
        }
        if !record.deployAttempts.isEmpty, !record.deployFailed {
          for (name, reason) in pool.deployedElsewhere(record.commit) {
            events(.environmentRetired(name, reason: reason))
          }
        }
        let finished = await finish(record, started: stepStarted)
        if case .abort(let why) = finished.result, abortion == nil { abortion = why }
        results[index] = finished
      }
    }
    // Jobs that never ran: stopped (they run on resume), or not run because of the abort.
    return jobs.indices.map { index in
      if let result = results[index] { return result }
      var record = StepRecord(
        number: 0, commit: jobs[index].commit, purpose: jobs[index].purpose, logDirectory: logDirectory)
      if let abortion, stopper.reason == nil { record.result = .abort(abortion) }
      return record
    }
  }

  /// A step a child task ran, handed back to the round. A struct, not a tuple: see
  /// docs/architecture.md on aggregates returned from async code (a Swift 6.3.1 -O bug).
  package struct RanStep: Sendable {
    var index: Int
    var record: StepRecord
    var started: ContinuousClock.Instant
  }

  /// A job's step as stored before the tool was stopped, when there is one: the first stored
  /// step of that commit and purpose not replayed yet. Moved steps are replayed on the way.
  private mutating func replayed(_ job: Job) -> StepRecord? {
    // A dependency step is the culprit's tree with that dependency's pin rewritten: its
    // commit is the dependency's, so the dependency's name is part of what it is.
    let dependency = job.purpose.deploysDependency ? dependencyStage?.name : nil
    while let position = replay.firstIndex(where: {
      $0.commit == job.commit.hex && $0.purpose.rawValue == job.purpose.rawValue && $0.dependency == dependency
    }) {
      let record = record(from: replay.remove(at: position))
      pool.stepEnded(record)
      steps.append(record)
      events(.stepFinished(record))
      if record.moved {
        pool.deployFailed(job.commit, in: record.environment)
        continue
      }
      return record
    }
    return nil
  }

  /// A verdict from an earlier hunt, when `reuse_verdicts` allows one for this job.
  private mutating func reused(_ job: Job) async -> StepRecord? {
    guard job.purpose == .bisect || job.purpose == .descend, let verdict = journal.cachedVerdicts[job.commit.hex] else {
      return nil
    }
    // One stored verdict is one piece of evidence: a commit asked for again (the
    // probabilistic mode retests) is really tested.
    guard !steps.contains(where: { $0.reused && $0.commit == job.commit }) else { return nil }
    let stepStarted = ContinuousClock.now
    var record = newRecord(job, environment: "")
    if let facts = try? info(job.commit) {
      events(
        .stepStarted(
          number: record.number, commit: facts, remaining: findings.plausibleCount ?? bisection.remainingCount,
          purpose: job.purpose,
          environment: ""))
    }
    record.reused = true
    record.result = .verdict(verdict)
    return await finish(record, started: stepStarted)
  }

  private mutating func newRecord(_ job: Job, environment: String) -> StepRecord {
    let number = nextNumber
    nextNumber += 1
    let label =
      "step-" + String(repeating: "0", count: max(0, 3 - String(number).count)) + "\(number)-\(job.commit.short(10))"
    var record = StepRecord(
      number: number, commit: job.commit, purpose: job.purpose,
      logDirectory: logDirectory.appendingPathComponent(label))
    record.environment = environment
    if job.purpose.deploysDependency, let stage = dependencyStage {
      record.dependency = DependencyPin(name: stage.name, revision: stage.range.text(for: job.commit))
    }
    return record
  }

  package struct PreparedStep: Sendable {
    var record: StepRecord
    var checkout: URL
    var variables: [String: String]
  }

  /// Numbers the step, says it started, and makes the clean checkout in the environment's
  /// workspace; a failed export is the step's end (`.failure`, with the record to store).
  private mutating func start(_ job: Job, in environment: DeployEnvironment) -> Result<PreparedStep, StepFailure> {
    var record = newRecord(job, environment: environment.name)
    if let facts = try? info(job.commit) {
      events(
        .stepStarted(
          number: record.number, commit: facts, remaining: findings.plausibleCount ?? bisection.remainingCount,
          purpose: job.purpose,
          environment: environment.name))
    }
    events(.phase(number: record.number, .exporting))
    // A dependency step deploys the culprit's tree, its pin rewritten (below).
    let deployed = job.purpose.deploysDependency ? (dependencyStage?.culprit ?? job.commit) : job.commit
    let checkout: URL
    do {
      try FileManager.default.createDirectory(at: record.logDirectory, withIntermediateDirectories: true)
      checkout = try prepareCheckout(deployed, in: environment)
    } catch let error as GitError where error.isRefusedPath {
      // The commit's tree holds a path git refuses to check out too (an entry under `.git/`):
      // that commit cannot be tested, the others can. Skipped, with why. Any other export
      // failure (a full disk, a missing blob) aborts below: skipping would hide it.
      record.result = .verdict(.skip)
      record.note = "cannot check out \(job.commit.short()): \(error.errorDescription ?? "\(error)")"
      return .failure(StepFailure(record: record))
    } catch {
      record.result = .abort("cannot export \(deployed.hex): \(error.localizedDescription)")
      return .failure(StepFailure(record: record))
    }
    var variables = commandEnvironment(
      for: deployed, in: environment, checkout: checkout, step: record.number, phase: job.purpose.rawValue)
    if job.purpose.deploysDependency {
      // In the checkout only, after it is made: the repository is never written.
      do {
        try writeDependencyPins(for: job.commit, in: checkout)
      } catch {
        record.result = .abort(error.errorDescription ?? "\(error)")
        return .failure(StepFailure(record: record))
      }
      variables.merge(dependencyVariables(for: job.commit)) { _, new in new }
    }
    return .success(PreparedStep(record: record, checkout: checkout, variables: variables))
  }

  package struct StepFailure: Error {
    var record: StepRecord
  }

  /// True when the deploy failed here and another environment has not tried this commit.
  private func shouldMove(_ record: StepRecord) -> Bool {
    // Under `deploy_failure.then: abort` too: the hunt aborts only when every environment
    // failed to deploy the commit.
    guard record.deployFailed, record.result != .stopped, stopper.reason == nil else { return false }
    return pool.canMove(record.commit, failedIn: record.environment)
  }

  /// Stores the step (durable before anything else happens) and reports it; a stopped step
  /// is not stored (it runs again).
  package mutating func finish(_ record: StepRecord, started: ContinuousClock.Instant) async -> StepRecord {
    var record = record
    record.totalTime = ContinuousClock.now - started
    if record.result != .stopped {
      do {
        try await journal.record(row(for: record))
      } catch {
        record.result = .abort("cannot save the verdict in the state database: \(error.localizedDescription)")
      }
      // The tool's own time includes making the verdict durable.
      record.totalTime = ContinuousClock.now - started
    }
    pool.stepEnded(record)
    steps.append(record)
    events(.stepFinished(record))
    return record
  }
}
