import Foundation
import History
import HuntStore

// Between a step as the hunt knows it (`StepRecord`) and as the journal stores it
// (`StepRow`, with the note's text from `StepNote`).
extension HuntSession {
  /// The stored form of a step.
  package func row(for record: StepRecord) -> StepRow {
    var verdict: Verdict?
    var note = StepNote(
      movedFrom: record.moved ? record.environment : nil,
      runs: record.runVerdicts)
    switch record.result {
    case .verdict(let value):
      verdict = value
      if let why = record.note { note.others.append(why) }
    case .abort(let why): note.others.append(why)
    case .stopped: note.others.append("stopped")
    }
    note.retest = record.retest
    let seconds = { (duration: Duration) in
      Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
    var exitCode: Int32?
    if case .exited(let code) = record.test?.termination { exitCode = code }
    let ended = Date()
    return StepRow(
      huntID: huntID, number: record.number, commit: record.commit.hex,
      environment: record.environment.isEmpty ? huntEnvironment : record.environment,
      purpose: record.purpose, verdict: verdict, exitCode: exitCode,
      deploySeconds: record.deploySeconds, testSeconds: record.testSeconds, logPath: record.logDirectory.path,
      startedAt: ended.addingTimeInterval(-seconds(record.totalTime)), endedAt: ended, reused: record.reused,
      note: note.text(withRuns: record.runVerdicts.count > 1 || record.purpose == .confirm),
      dependency: record.dependency?.name, dependencyRevision: record.dependency?.revision)
  }

  /// A step as it was stored, for replay.
  package func record(from stored: StepRow) -> StepRecord {
    var record = StepRecord(
      number: stored.number, commit: ObjectID(hex: stored.commit) ?? bad,
      purpose: stored.purpose,
      logDirectory: URL(fileURLWithPath: stored.logPath ?? logDirectory.path))
    record.environment = stored.environment
    if let name = stored.dependency {
      record.dependency = DependencyPin(name: name, revision: stored.dependencyRevision ?? "")
    }
    record.replayed = true
    record.reused = stored.reused
    let note = StepNote(stored.note)
    record.moved = note.moved
    record.runVerdicts = note.runs
    record.retest = note.retest
    record.storedSeconds = (stored.deploySeconds, stored.testSeconds)
    record.result =
      stored.verdict.map { .verdict($0) }
      ?? .abort(note.others.isEmpty ? "aborted" : note.others.joined(separator: "; "))
    return record
  }
}
