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
      UPDATE sqlite_master SET sql = replace(sql, ", 'descend', 'confirm', 'revert'", '') WHERE name = 'steps';
      PRAGMA writable_schema = OFF;
      DELETE FROM grdb_migrations WHERE identifier IN ('v3-step-purposes', 'v4-revert');
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

  @Test("a v3 file (no revert purpose) is upgraded in place: rows kept, revert steps accepted")
  func revertPurposeUpgrade() throws {
    let folder = try StoreFolder()
    let huntID: Int64
    do {
      let store = try folder.open()
      huntID = try store.createHunt(sampleHunt()).id
      for number in 1...4 { try store.recordStep(sampleStep(huntID: huntID, number: number)) }
    }
    // What the previous release wrote: the v3 CHECK on purposes, user_version 3.
    try runPythonSQLite(
      folder.path,
      """
      PRAGMA writable_schema = ON;
      UPDATE sqlite_master SET sql = replace(sql, ", 'revert'", '') WHERE name = 'steps';
      PRAGMA writable_schema = OFF;
      DELETE FROM grdb_migrations WHERE identifier = 'v4-revert';
      PRAGMA user_version = 3;
      """)
    let before = try queryPythonSQLite(folder.path, "SELECT sql FROM sqlite_master WHERE name = 'steps'")
    #expect(!before.contains("'revert'"))
    let old = try folder.open()
    var revert = sampleStep(huntID: huntID, number: 5)
    revert.purpose = .revert
    try old.recordStep(revert)
    let rows = try folder.open().steps(huntID: huntID)
    #expect(rows.map(\.number) == Array(1...5))
    #expect(rows.last?.purpose == .revert)
    #expect(
      try queryPythonSQLite(folder.path, "SELECT sql FROM sqlite_master WHERE name = 'steps'").contains("'revert'"))
    #expect(try old.integrityCheck() == ["ok"])
  }
}
