import Foundation
import HuntStore
import Synchronization
import TestSupport
import Testing

@Suite struct OpeningTests {
  @Test func everythingRecordedIsThereAfterReopening() throws {
    let folder = try StoreFolder()
    var created: HuntRecord
    do {
      let store = try folder.open()
      created = try store.createHunt(sampleHunt(paths: ["config", "it's!"], firstParent: true))
      for number in 1...8 { try store.recordStep(sampleStep(huntID: created.id, number: number)) }
      try store.finishHunt(id: created.id, outcome: "culprit \(commitHex(6))", endedAt: date(500))
      created.outcome = "culprit \(commitHex(6))"
      created.endedAt = date(500)
    }
    let store = try folder.open()
    #expect(try store.hunt(id: created.id) == created)
    #expect(try store.hunts(limit: 10) == [created])
    #expect(try store.steps(huntID: created.id) == (1...8).map { sampleStep(huntID: created.id, number: $0) })
    #expect(try store.unfinishedHunt(environment: "staging") == nil)
    #expect(try store.integrityCheck() == ["ok"])
    #expect(try queryPythonSQLite(folder.path, "PRAGMA integrity_check") == "ok")
    #expect(try queryPythonSQLite(folder.path, "PRAGMA journal_mode") == "wal")
    #expect(try queryPythonSQLite(folder.path, "PRAGMA application_id") == String(0x4244_5059))
  }

  @Test func theNewestUnfinishedHuntOfAnEnvironmentIsTheOneToResume() throws {
    let store = try StoreFolder().open()
    let old = try store.createHunt(sampleHunt())
    let newer = try store.createHunt(sampleHunt())
    let elsewhere = try store.createHunt(sampleHunt(environment: "prod"))
    #expect(try store.unfinishedHunt(environment: "staging")?.id == newer.id)
    try store.finishHunt(id: newer.id, outcome: "stopped")
    #expect(try store.unfinishedHunt(environment: "staging")?.id == old.id)
    #expect(try store.hunts(limit: 2).map(\.id) == [elsewhere.id, newer.id])
    #expect(try store.hunt(id: 999) == nil)
    #expect(throws: StoreError.unknownHunt(id: 999, path: store.path)) {
      try store.finishHunt(id: 999, outcome: "x")
    }
  }

  @Test func aStepIsRecordedOnceAndOnlyForAKnownHunt() throws {
    let store = try StoreFolder().open()
    let hunt = try store.createHunt(sampleHunt())
    try store.recordStep(sampleStep(huntID: hunt.id, number: 1))
    #expect(throws: StoreError.duplicateStep(huntID: hunt.id, number: 1, path: store.path)) {
      try store.recordStep(sampleStep(huntID: hunt.id, number: 1))
    }
    #expect(throws: StoreError.unknownHunt(id: 42, path: store.path)) {
      try store.recordStep(sampleStep(huntID: 42, number: 1))
    }
    #expect(try store.steps(huntID: hunt.id).count == 1)
  }

  @Test func twoProcessesCreatingTheSameFileAtOnceBothOpenIt() throws {
    for _ in 0..<10 {
      let folder = try StoreFolder()
      let failures = Mutex<[String]>([])
      DispatchQueue.concurrentPerform(iterations: 2) { _ in
        do {
          _ = try StateStore(path: folder.path).createHunt(sampleHunt())
        } catch {
          failures.withLock { $0.append(error.localizedDescription) }
        }
      }
      #expect(failures.withLock { $0 } == [])
      #expect(try folder.open().hunts(limit: 5).count == 2)
    }
  }

  @Test func theDefaultPathIsInsideTheGitDirectory() {
    #expect(StateStore.defaultPath(gitDirectory: "/srv/infra/.git") == "/srv/infra/.git/bisect-deploy/state.sqlite")
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
    #expect(throws: error) { try StateStore(path: path) }
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
      _ = try StateStore(path: folder.path)
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
      _ = try StateStore(path: folder.path)
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
}
