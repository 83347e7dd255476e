import Foundation
import HuntStore
import HuntStorePostgres
import Synchronization
import TestSupport
import Testing

@Suite struct OpeningTests {
  @Test(arguments: Backend.allCases) func everythingRecordedIsThereAfterReopening(_ backend: Backend) async throws {
    let state = try TestState(backend)
    var created: HuntRecord
    do {
      let store = try await state.open()
      created = try await store.createHunt(sampleHunt(paths: ["config", "it's!"], firstParent: true))
      for number in 1...8 { try await store.recordStep(sampleStep(huntID: created.id, number: number)) }
      try await store.finishHunt(id: created.id, outcome: "culprit \(commitHex(6))", endedAt: date(500))
      created.outcome = "culprit \(commitHex(6))"
      created.endedAt = date(500)
      await store.close()
    }
    let store = try await state.open()
    #expect(try await store.hunt(id: created.id) == created)
    #expect(try await store.hunts(limit: 10) == [created])
    #expect(try await store.steps(huntID: created.id) == (1...8).map { sampleStep(huntID: created.id, number: $0) })
    #expect(try await store.unfinishedHunt(environment: "staging") == nil)
    #expect(created.host == ProcessIdentity.hostName)
    guard backend == .sqlite else { return }
    #expect(try SQLiteStore(path: state.folder.path).integrityCheck() == ["ok"])
    #expect(try queryPythonSQLite(state.folder.path, "PRAGMA integrity_check") == "ok")
    #expect(try queryPythonSQLite(state.folder.path, "PRAGMA journal_mode") == "wal")
    #expect(try queryPythonSQLite(state.folder.path, "PRAGMA application_id") == String(0x4244_5059))
  }

  @Test(arguments: Backend.allCases) func theNewestUnfinishedHuntOfAnEnvironmentIsTheOneToResume(_ backend: Backend)
    async throws
  {
    let store = try await TestState(backend).open()
    let old = try await store.createHunt(sampleHunt())
    let newer = try await store.createHunt(sampleHunt())
    let elsewhere = try await store.createHunt(sampleHunt(environment: "prod"))
    #expect(try await store.unfinishedHunt(environment: "staging")?.id == newer.id)
    #expect(try await store.unfinishedHunts(environment: "staging").map(\.id) == [newer.id, old.id])
    try await store.finishHunt(id: newer.id, outcome: "stopped")
    #expect(try await store.unfinishedHunt(environment: "staging")?.id == old.id)
    #expect(try await store.hunts(limit: 2).map(\.id) == [elsewhere.id, newer.id])
    #expect(try await store.hunt(id: 999) == nil)
    await #expect(throws: StoreError.unknownHunt(id: 999, path: store.location)) {
      try await store.finishHunt(id: 999, outcome: "x")
    }
  }

  @Test(arguments: Backend.allCases) func aHuntIsCreatedOncePerToken(_ backend: Backend) async throws {
    // A retry after a lost answer sends the same hunt again: it is stored once.
    let store = try await TestState(backend).open()
    let new = sampleHunt()
    let first = try await store.createHunt(new)
    let again = try await store.createHunt(new)
    #expect(again == first)
    #expect(try await store.hunts(limit: 10).count == 1)
  }

  @Test(arguments: Backend.allCases) func aStepIsRecordedOnceAndOnlyForAKnownHunt(_ backend: Backend) async throws {
    let store = try await TestState(backend).open()
    let hunt = try await store.createHunt(sampleHunt())
    try await store.recordStep(sampleStep(huntID: hunt.id, number: 1))
    // The same step again (a retry whose first try committed) changes nothing...
    try await store.recordStep(sampleStep(huntID: hunt.id, number: 1))
    // ...another step under its number is refused.
    var other = sampleStep(huntID: hunt.id, number: 1)
    other.commit = commitHex(77)
    await #expect(throws: StoreError.duplicateStep(huntID: hunt.id, number: 1, path: store.location)) {
      try await store.recordStep(other)
    }
    await #expect(throws: StoreError.unknownHunt(id: 42, path: store.location)) {
      try await store.recordStep(sampleStep(huntID: 42, number: 1))
    }
    #expect(try await store.steps(huntID: hunt.id).count == 1)
  }

  @Test func twoProcessesCreatingTheSameFileAtOnceBothOpenIt() throws {
    for _ in 0..<10 {
      let folder = try StoreFolder()
      let failures = Mutex<[String]>([])
      DispatchQueue.concurrentPerform(iterations: 2) { _ in
        do {
          _ = try SQLiteStore(path: folder.path).createHunt(sampleHunt())
        } catch {
          failures.withLock { $0.append(error.localizedDescription) }
        }
      }
      #expect(failures.withLock { $0 } == [])
      #expect(try folder.open().hunts(limit: 5).count == 2)
    }
  }

  @Test func theDefaultPathIsInsideTheGitDirectory() {
    #expect(SQLiteStore.defaultPath(gitDirectory: "/srv/infra/.git") == "/srv/infra/.git/bisect-deploy/state.sqlite")
  }

  @Test func anEmptyFileIsInitialised() throws {
    let folder = try StoreFolder()
    try FileManager.default.createDirectory(
      atPath: (folder.path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    #expect(FileManager.default.createFile(atPath: folder.path, contents: Data()))
    let store = try folder.open()
    let hunt = try store.createHunt(sampleHunt())
    #expect(try store.hunt(id: hunt.id) == hunt)
    #expect(try store.integrityCheck() == ["ok"])
  }

  /// Opens `path`, expects `error`, and checks that the file's bytes did not change and no
  /// journal appeared beside it.
  func expectRefused(_ path: String, _ error: StoreError) throws {
    let before = try Data(contentsOf: URL(fileURLWithPath: path))
    #expect(throws: error) { try SQLiteStore(path: path) }
    #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
    #expect(!FileManager.default.fileExists(atPath: path + "-journal"))
  }

  @Test func garbageIsDamagedAndLeftAlone() throws {
    let folder = try StoreFolder()
    var generator = SystemRandomNumberGenerator()
    let garbage = Data((0..<8192).map { _ in UInt8.random(in: 0...255, using: &generator) })
    try FileManager.default.createDirectory(
      atPath: (folder.path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try garbage.write(to: URL(fileURLWithPath: folder.path))
    let before = try Data(contentsOf: URL(fileURLWithPath: folder.path))
    do {
      _ = try SQLiteStore(path: folder.path)
      Issue.record("garbage was opened")
    } catch {
      guard case .damaged(let path, _) = error else {
        Issue.record("expected .damaged, got \(error)")
        return
      }
      #expect(path == folder.path)
      #expect(error.errorDescription?.contains("nothing was deleted") == true)
      #expect(error.errorDescription?.contains(folder.path) == true)
    }
    #expect(try Data(contentsOf: URL(fileURLWithPath: folder.path)) == before)
  }

  @Test func aCorruptPageIsDamagedAndLeftAlone() throws {
    let folder = try StoreFolder()
    do {
      let store = try folder.open()
      let hunt = try store.createHunt(sampleHunt())
      for number in 1...200 { try store.recordStep(sampleStep(huntID: hunt.id, number: number)) }
    }  // closing checkpoints the WAL into the file and removes it
    #expect(!FileManager.default.fileExists(atPath: folder.path + "-wal"))
    let handle = try FileHandle(forUpdating: URL(fileURLWithPath: folder.path))
    // Page 3 onwards holds the tables' b-trees (page 1 is the schema); scribble over one.
    try handle.seek(toOffset: 3 * 4096)
    try handle.write(contentsOf: Data(repeating: 0xA5, count: 2048))
    try handle.close()
    let before = try Data(contentsOf: URL(fileURLWithPath: folder.path))
    do {
      _ = try SQLiteStore(path: folder.path)
      Issue.record("a corrupt file was opened")
    } catch {
      guard case .damaged = error else {
        Issue.record("expected .damaged, got \(error)")
        return
      }
    }
    #expect(try Data(contentsOf: URL(fileURLWithPath: folder.path)) == before)
  }

  @Test(arguments: [
    "PRAGMA application_id = 1234; CREATE TABLE hunts (id INTEGER);",
    "CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('x');",
    "PRAGMA user_version = 99;",
    "CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY); INSERT INTO grdb_migrations VALUES ('v1');",
  ])
  func anotherProgramsDatabaseIsForeignAndLeftAlone(sql: String) throws {
    let folder = try StoreFolder()
    try FileManager.default.createDirectory(
      atPath: (folder.path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try runPythonSQLite(folder.path, sql)
    try expectRefused(folder.path, .foreign(path: folder.path))
  }

  @Test(arguments: [
    "PRAGMA user_version = 99;",
    "INSERT INTO grdb_migrations VALUES ('v3-from-the-future');",
  ])
  func aNewerSchemaIsRefusedAndLeftAlone(sql: String) throws {
    let folder = try StoreFolder()
    do {
      let store = try folder.open()
      _ = try store.createHunt(sampleHunt())
    }
    try runPythonSQLite(folder.path, sql)
    try expectRefused(folder.path, .newerSchema(path: folder.path))
  }

  @Test func aFolderInTheWayCannotBeOpened() throws {
    let folder = try StoreFolder()
    try FileManager.default.createDirectory(atPath: folder.path, withIntermediateDirectories: true)
    #expect {
      try folder.open()
    } throws: { error in
      guard let error = error as? StoreError, case .cannotOpen(let path, _) = error else { return false }
      return path == folder.path
    }
  }

  // PostgreSQL: a schema that is not ours, or is newer, is refused and left as it was.

  @Test(arguments: [
    "CREATE TABLE {s}.contacts (name text); INSERT INTO {s}.contacts VALUES ('x');",
    "CREATE TABLE {s}.meta (key text PRIMARY KEY, value text); INSERT INTO {s}.meta VALUES ('application', 'other');",
  ])
  func anotherProgramsSchemaIsForeignAndLeftAlone(sql: String) async throws {
    let state = try TestState(.postgres)
    let schema = "\"\(state.schema)\""
    try runPostgresSQL("CREATE SCHEMA \(schema); " + sql.replacingOccurrences(of: "{s}", with: schema))
    let before = try postgresDump(state.schema)
    await #expect(throws: StoreError.foreign(path: state.text)) { _ = try await state.open() }
    #expect(try postgresDump(state.schema) == before)
  }

  @Test func aNewerPostgresSchemaIsRefusedAndLeftAlone() async throws {
    let state = try TestState(.postgres)
    let store = try await state.open()
    _ = try await store.createHunt(sampleHunt())
    await store.close()
    try runPostgresSQL("UPDATE \"\(state.schema)\".meta SET value = '99' WHERE key = 'schema_version'")
    let before = try postgresDump(state.schema)
    await #expect(throws: StoreError.newerSchema(path: state.text)) { _ = try await state.open() }
    #expect(try postgresDump(state.schema) == before)
  }

  @Test func twoHostsCreatingTheSchemaAtOnceBothOpenIt() async throws {
    let state = try TestState(.postgres)
    try await withThrowingTaskGroup(of: Void.self) { group in
      for _ in 0..<4 {
        group.addTask {
          let store = try await state.location.open()
          _ = try await store.createHunt(sampleHunt())
          await store.close()
        }
      }
      try await group.waitForAll()
    }
    #expect(try await state.open().hunts(limit: 10).count == 4)
  }

  /// Passwords with the characters that keep a URL from parsing (`#` ends it, `/` and `?`
  /// start its path and query, a space is not allowed) are refused without being shown too.
  @Test(arguments: ["hunter2secret", "pa#ss2secret", "pa/ss2secret", "pa?ss2secret", "pa ss2secret", "p@ss2secret"])
  func aPasswordInTheURLIsRefusedWithoutShowingIt(password: String) throws {
    let secret = password.replacingOccurrences(of: "2secret", with: "")
    #expect {
      _ = try StateLocation(parsing: "postgres://bisect:\(password)@127.0.0.1:5432/bisect")
    } throws: { error in
      let message = (error as? StoreError)?.errorDescription ?? ""
      return !message.isEmpty && !message.contains("2secret") && !message.contains(secret + "2")
        && message.contains("127.0.0.1")
    }
  }

  @Test func theRightPasswordFileLineIsUsedAndAReadableFileIgnored() throws {
    let folder = try TemporaryDirectory("pgpass")
    let file = folder.url.appendingPathComponent("pgpass").path
    try Data("# team\nother:5432:*:bisect:wrong\n127.0.0.1:*:bisect:bisect:pa\\:ss\n".utf8).write(
      to: URL(fileURLWithPath: file))
    chmod(file, 0o600)
    let location = try PostgresLocation(parsing: "postgres://bisect@127.0.0.1:6543/bisect")
    #expect(location.password(environment: ["PGPASSFILE": file]) == "pa:ss")
    #expect(location.password(environment: ["PGPASSFILE": file, "PGPASSWORD": "env"]) == "env")
    chmod(file, 0o644)
    #expect(location.password(environment: ["PGPASSFILE": file]) == nil)
  }
}

/// Every row of every table of `schema`, as psql prints them: what a refusal must leave unchanged.
func postgresDump(_ schema: String) throws -> String {
  let tables = try runPostgresSQL(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = '\(schema)' ORDER BY table_name")
  var dump = tables + "\n"
  for table in tables.split(separator: "\n") {
    dump += try runPostgresSQL("SELECT * FROM \"\(schema)\".\(table) ORDER BY 1") + "\n"
  }
  return dump
}
