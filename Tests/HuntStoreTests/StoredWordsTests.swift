import Foundation
import History
import HuntStore
import Testing

/// Stored words (a step's verdict and purpose, a cached verdict) are read strictly: a word the
/// tool does not know is damage named in the error, never a silent default.
@Suite struct StoredWordsTests {
  @Test("an unknown verdict in a step is an error naming it", arguments: ["steps", "verdict_cache"])
  func unknownVerdict(table: String) throws {
    let folder = try StoreFolder()
    let store = try folder.open()
    let hunt = try store.createHunt(sampleHunt())
    try store.recordStep(
      StepRow(
        huntID: hunt.id, number: 1, commit: commitHex(1), environment: "staging", purpose: .bisect, verdict: .bad,
        startedAt: date(1), endedAt: date(2)))
    // Another program writes a word of its own, past the CHECK constraint.
    try runPythonSQLite(
      folder.path, "PRAGMA ignore_check_constraints = ON; UPDATE \(table) SET verdict = 'maybe';")
    #expect {
      if table == "steps" {
        _ = try store.steps(huntID: hunt.id)
      } else {
        _ = try store.cachedVerdicts(fingerprint: "fp-1", environment: "staging")
      }
    } throws: { error in
      "\(error)".contains("maybe")
    }
  }

  @Test("an unknown purpose is an error naming it")
  func unknownPurpose() throws {
    let folder = try StoreFolder()
    let store = try folder.open()
    let hunt = try store.createHunt(sampleHunt())
    try store.recordStep(sampleStep(huntID: hunt.id, number: 2))
    try runPythonSQLite(folder.path, "PRAGMA ignore_check_constraints = ON; UPDATE steps SET purpose = 'guess';")
    #expect {
      _ = try store.steps(huntID: hunt.id)
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
