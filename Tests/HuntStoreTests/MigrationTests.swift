import Foundation
import HuntStore
import TestSupport
import Testing

@Suite struct MigrationTests {
  @Test("a v2 file (steps limited to four purposes) is upgraded in place: rows kept, descend and confirm accepted")
  func stepPurposesUpgrade() throws {
    let folder = try StoreFolder()
    let huntID: Int64
    do {
      let store = try folder.open()
      huntID = try store.createHunt(sampleHunt()).id
      for number in 1...6 { try store.recordStep(sampleStep(huntID: huntID, number: number)) }
    }
    // Turn the file back into what the previous release wrote: the old CHECK on purposes,
    // user_version 2, and no record of the v3 migration.
    try runPythonSQLite(
      folder.path,
      """
      PRAGMA writable_schema = ON;
      UPDATE sqlite_master SET sql = replace(sql, ", 'descend', 'confirm'", '') WHERE name = 'steps';
      PRAGMA writable_schema = OFF;
      DELETE FROM grdb_migrations WHERE identifier IN ('v3-step-purposes', 'v5-dependencies');
      PRAGMA user_version = 2;
      """)
    let old = try folder.open()
    #expect(try old.steps(huntID: huntID).map(\.number) == Array(1...6))
    var descend = sampleStep(huntID: huntID, number: 7)
    descend.purpose = .descend
    var confirm = sampleStep(huntID: huntID, number: 8)
    confirm.purpose = .confirm
    try old.recordStep(descend)
    try old.recordStep(confirm)
    let rows = try folder.open().steps(huntID: huntID)
    #expect(rows.map(\.purpose).suffix(2) == [.descend, .confirm])
    #expect(rows.prefix(6) == (try folder.open().steps(huntID: huntID)).prefix(6))
    #expect(try old.integrityCheck() == ["ok"])
  }

  @Test("a v3 file (no dependency steps) is upgraded in place: rows kept, dependency steps stored with their pin")
  func dependencyStepsUpgrade() throws {
    let folder = try StoreFolder()
    let huntID: Int64
    do {
      let store = try folder.open()
      huntID = try store.createHunt(sampleHunt()).id
      for number in 1...4 { try store.recordStep(sampleStep(huntID: huntID, number: number)) }
    }
    let before = try folder.open().steps(huntID: huntID)
    // What the previous release wrote: the v3 steps table, user_version 3, no v5 migration.
    try runPythonSQLite(
      folder.path,
      """
      CREATE TABLE steps_old (
        hunt_id INTEGER NOT NULL REFERENCES hunts(id), number INTEGER NOT NULL, commit_hex TEXT NOT NULL,
        environment TEXT NOT NULL,
        purpose TEXT NOT NULL CHECK (purpose IN ('verify-bad', 'verify-good', 'bisect', 'manual', 'descend', 'confirm')),
        verdict TEXT CHECK (verdict IN ('good', 'bad', 'skip')), exit_code INTEGER, deploy_seconds REAL,
        test_seconds REAL, log_path TEXT, started_at DATETIME NOT NULL, ended_at DATETIME NOT NULL,
        reused BOOLEAN NOT NULL, note TEXT, PRIMARY KEY (hunt_id, number));
      INSERT INTO steps_old SELECT hunt_id, number, commit_hex, environment, purpose, verdict, exit_code,
        deploy_seconds, test_seconds, log_path, started_at, ended_at, reused, note FROM steps;
      DROP TABLE steps;
      ALTER TABLE steps_old RENAME TO steps;
      DELETE FROM grdb_migrations WHERE identifier = 'v5-dependencies';
      PRAGMA user_version = 3;
      """)
    #expect(try queryPythonSQLite(folder.path, "SELECT COUNT(*) FROM pragma_table_info('steps')") == "14")
    let upgraded = try folder.open()
    #expect(try upgraded.steps(huntID: huntID) == before)
    var check = sampleStep(huntID: huntID, number: 5)
    check.purpose = .dependencyCheck
    check.dependency = "kubespawner"
    check.dependencyRevision = "dc41368"
    check.verdict = .good
    var inside = sampleStep(huntID: huntID, number: 6)
    inside.purpose = .dependency
    inside.dependency = "kubespawner"
    inside.dependencyRevision = String(repeating: "4", count: 40)
    inside.verdict = .bad
    inside.reused = false
    try upgraded.recordStep(check)
    try upgraded.recordStep(inside)
    let rows = try folder.open().steps(huntID: huntID)
    #expect(rows.suffix(2) == [check, inside])
    #expect(try queryPythonSQLite(folder.path, "PRAGMA user_version") == "5")
    // A dependency step's verdict judged a rewritten tree: it never enters the verdict cache.
    let cached = try upgraded.cachedVerdicts(fingerprint: "fp-1", environment: "staging")
    #expect(cached[check.commit] == nil && cached[inside.commit] == nil)
    #expect(try upgraded.integrityCheck() == ["ok"])
  }
}
