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
      DELETE FROM grdb_migrations WHERE identifier IN ('v3-step-purposes', 'v5-dependencies', 'v6-revert');
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

  @Test("a v3 file (pid-checked locks) is upgraded in place: hunts and steps kept, each lock a lease that runs out")
  func locksBecomeLeases() throws {
    let folder = try StoreFolder()
    try FileManager.default.createDirectory(
      atPath: (folder.path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    // What release 3 of the schema wrote, by another program's SQLite.
    try runPythonSQLite(
      folder.path,
      """
      CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
      INSERT INTO grdb_migrations VALUES ('v1'), ('v2-nights'), ('v3-step-purposes');
      CREATE TABLE hunts (id INTEGER PRIMARY KEY AUTOINCREMENT, repository TEXT NOT NULL, bad TEXT NOT NULL,
        goods TEXT NOT NULL, paths TEXT NOT NULL, first_parent BOOLEAN NOT NULL, environment TEXT NOT NULL,
        config_fingerprint TEXT NOT NULL, command_line TEXT NOT NULL, started_at DATETIME NOT NULL,
        ended_at DATETIME, outcome TEXT);
      CREATE INDEX hunts_by_environment ON hunts(environment, outcome);
      CREATE TABLE steps (hunt_id INTEGER NOT NULL REFERENCES hunts(id), number INTEGER NOT NULL,
        commit_hex TEXT NOT NULL, environment TEXT NOT NULL, purpose TEXT NOT NULL, verdict TEXT, exit_code INTEGER,
        deploy_seconds REAL, test_seconds REAL, log_path TEXT, started_at DATETIME NOT NULL,
        ended_at DATETIME NOT NULL, reused BOOLEAN NOT NULL, note TEXT, PRIMARY KEY (hunt_id, number));
      CREATE TABLE verdict_cache (fingerprint TEXT NOT NULL, environment TEXT NOT NULL, commit_hex TEXT NOT NULL,
        verdict TEXT NOT NULL, recorded_at DATETIME NOT NULL, hunt_id INTEGER REFERENCES hunts(id),
        PRIMARY KEY (fingerprint, environment, commit_hex));
      CREATE TABLE locks (environment TEXT PRIMARY KEY, hunt_id INTEGER NOT NULL REFERENCES hunts(id),
        pid INTEGER NOT NULL, host TEXT NOT NULL, started_at DATETIME NOT NULL);
      CREATE TABLE nights (id INTEGER PRIMARY KEY AUTOINCREMENT, branch TEXT NOT NULL, environment TEXT NOT NULL,
        config_fingerprint TEXT NOT NULL, commit_hex TEXT NOT NULL, verdict TEXT NOT NULL, tested_at DATETIME NOT NULL,
        hunt_id INTEGER REFERENCES hunts(id), UNIQUE (branch, environment, config_fingerprint, commit_hex));
      INSERT INTO hunts (repository, bad, goods, paths, first_parent, environment, config_fingerprint, command_line,
        started_at) VALUES ('/srv/infra', '\(commitHex(2))', '["\(commitHex(1))"]', '[]', 0, 'staging', 'fp-1',
        'bisect-deploy', '2023-11-14 22:13:20.000');
      INSERT INTO steps VALUES (1, 1, '\(commitHex(2))', 'staging', 'verify-bad', 'bad', 1, 0.5, 0.25, '/logs/1',
        '2023-11-14 22:13:21.000', '2023-11-14 22:13:22.000', 0, NULL);
      INSERT INTO locks VALUES ('staging', 1, 4242, 'old-host', '2023-11-14 22:13:20.000');
      PRAGMA application_id = \(0x4244_5059);
      PRAGMA user_version = 3;
      """)
    let store = try folder.open()
    let hunt = try #require(try store.hunt(id: 1))
    #expect(hunt.host == "" && hunt.pool == false && hunt.environment == "staging")
    #expect(try store.steps(huntID: 1).map(\.verdict) == [.bad])
    let lease = try #require(try store.leases().first)
    #expect(lease.environment == "staging" && lease.holder.huntID == 1 && lease.holder.host == "old-host")
    #expect(lease.holder.pid == 4242 && !lease.expired)
    #expect(lease.holder.expiresAt > Date() && lease.holder.expiresAt < Date().addingTimeInterval(61))
    // Its holder is of an older release: it is never taken for gone, only run out.
    #expect(!ProcessIdentity.isGone(lease.holder.process))
    #expect(try queryPythonSQLite(folder.path, "PRAGMA user_version") == String(6))
    #expect(try store.integrityCheck() == ["ok"])
    #expect(try store.createHunt(sampleHunt()).id == 2)
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
      DELETE FROM grdb_migrations WHERE identifier IN ('v5-dependencies', 'v6-revert');
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
    #expect(try queryPythonSQLite(folder.path, "PRAGMA user_version") == "6")
    // A dependency step's verdict judged a rewritten tree: it never enters the verdict cache.
    let cached = try upgraded.cachedVerdicts(fingerprint: "fp-1", environment: "staging")
    #expect(cached[check.commit] == nil && cached[inside.commit] == nil)
    #expect(try upgraded.integrityCheck() == ["ok"])
  }

  @Test("a v5 file (no revert purpose) is upgraded in place: rows kept, revert steps accepted")
  func revertPurposeUpgrade() throws {
    let folder = try StoreFolder()
    let huntID: Int64
    do {
      let store = try folder.open()
      huntID = try store.createHunt(sampleHunt()).id
      for number in 1...4 { try store.recordStep(sampleStep(huntID: huntID, number: number)) }
    }
    // What the previous release wrote: the v5 CHECK on purposes, user_version 5.
    try runPythonSQLite(
      folder.path,
      """
      PRAGMA writable_schema = ON;
      UPDATE sqlite_master SET sql = replace(sql, ", 'revert'", '') WHERE name = 'steps';
      PRAGMA writable_schema = OFF;
      DELETE FROM grdb_migrations WHERE identifier = 'v6-revert';
      PRAGMA user_version = 5;
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
