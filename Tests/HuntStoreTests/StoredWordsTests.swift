import Foundation
import History
import HuntStore
import TestSupport
import Testing

/// Stored words (a step's verdict and purpose, a cached verdict) are read strictly: a word the
/// tool does not know is damage named in the error, never a silent default.
@Suite struct StoredWordsTests {
  /// Another program writes `sql` into the state, past its constraints.
  func write(_ sql: String, into state: TestState) throws {
    switch state.backend {
    case .sqlite:
      try runPythonSQLite(state.folder.path, "PRAGMA ignore_check_constraints = ON; " + sql)
    case .postgres:
      let schema = "\"\(state.schema)\""
      try runPostgresSQL(
        "SET search_path TO \(schema); ALTER TABLE steps DROP CONSTRAINT IF EXISTS steps_verdict_check; "
          + "ALTER TABLE verdict_cache DROP CONSTRAINT IF EXISTS verdict_cache_verdict_check; " + sql)
    }
  }

  @Test(
    "an unknown verdict in a step is an error naming it", arguments: ["steps", "verdict_cache"], Backend.allCases)
  func unknownVerdict(table: String, backend: Backend) async throws {
    let state = try TestState(backend)
    let store = try await state.open()
    let hunt = try await store.createHunt(sampleHunt())
    try await store.recordStep(
      StepRow(
        huntID: hunt.id, number: 1, commit: commitHex(1), environment: "staging", purpose: .bisect, verdict: .bad,
        startedAt: date(1), endedAt: date(2)))
    try write("UPDATE \(table) SET verdict = 'maybe';", into: state)
    await #expect {
      if table == "steps" {
        _ = try await store.steps(huntID: hunt.id)
      } else {
        _ = try await store.cachedVerdicts(fingerprint: "fp-1", environment: "staging")
      }
    } throws: { error in
      "\(error)".contains("maybe")
    }
  }

  @Test("an unknown purpose is an error naming it", arguments: Backend.allCases)
  func unknownPurpose(backend: Backend) async throws {
    let state = try TestState(backend)
    let store = try await state.open()
    let hunt = try await store.createHunt(sampleHunt())
    try await store.recordStep(sampleStep(huntID: hunt.id, number: 2))
    try write("UPDATE steps SET purpose = 'guess';", into: state)
    await #expect {
      _ = try await store.steps(huntID: hunt.id)
    } throws: { error in
      "\(error)".contains("guess")
    }
  }

  @Test("a note's runs with an unknown word are kept as text, not dropped")
  func unknownRunWord() {
    let note = StepNote("moved: deploy failed from dev2; runs: bad,maybe,good")
    #expect(note.runs.isEmpty)
    #expect(note.others == ["runs: bad,maybe,good"])
    #expect(note.movedFrom == "dev2")
    #expect(StepNote("runs: bad,good,skip").runs == [.bad, .good, .skip])
  }
}
