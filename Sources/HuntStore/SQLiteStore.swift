import Foundation
import GRDB

/// The hunts, steps, verdict cache and environment leases of one state file (SQLite, through
/// GRDB): the embedded default, for one person or one machine.
///
/// Every write is one `IMMEDIATE` transaction in WAL mode with `synchronous = FULL`: when a
/// method returns, its rows survive `kill -9` of the process and a power loss. One instance
/// may be shared by tasks and threads (GRDB serialises its connection); several processes may
/// open the same file at once, each with its own instance. Its methods are synchronous (they
/// satisfy `StateStore`'s asynchronous requirements as they are): SQLite answers from the disk.
public final class SQLiteStore: StateStore {
  /// The database file.
  public let path: String

  public var location: String { path }
  let queue: DatabaseQueue

  /// How long a write waits for another process's transaction before failing.
  static let busyTimeout: TimeInterval = 5

  /// `<gitdir>/bisect-deploy/state.sqlite`: beside git's own bisect state, so that each
  /// clone has its own hunts and `git clean` never removes them.
  public static func defaultPath(gitDirectory: String) -> String {
    URL(fileURLWithPath: gitDirectory).appendingPathComponent("bisect-deploy")
      .appendingPathComponent("state.sqlite").path
  }

  /// Opens the state file at `path`, creating it and its folders if missing, and brings its
  /// schema up to date.
  ///
  /// A file that is not ours is refused before anything is written to it: `.damaged` when it
  /// is not SQLite or fails `PRAGMA quick_check`, `.foreign` when it belongs to another
  /// program, `.newerSchema` when a newer release wrote it. An empty (0-byte) file is
  /// initialised like a missing one.
  public init(path: String) throws(StoreError) {
    self.path = path
    let url = URL(fileURLWithPath: path)
    let folder = url.deletingLastPathComponent()
    do {
      // The state holds command lines, which may hold secrets: a folder it creates is for
      // its owner only.
      if !FileManager.default.fileExists(atPath: folder.path) {
        try FileManager.default.createDirectory(
          at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
      }
    } catch {
      throw .cannotOpen(path: path, reason: "cannot create its folder: \(error.localizedDescription)")
    }
    var configuration = Configuration()
    configuration.busyMode = .timeout(Self.busyTimeout)
    configuration.label = "HuntStore"
    // The journal mode stays as the file has it until the checks pass: switching to WAL
    // rewrites the header, and a file that is not ours must stay untouched.
    let queue: DatabaseQueue
    do {
      queue = try DatabaseQueue(path: path, configuration: configuration)
    } catch {
      throw Self.storeError(error, path: path)
    }
    // Owner only, before the WAL and shared-memory files exist: SQLite gives them the
    // database file's mode. Files of other owners are left as they are.
    if let owner = try? FileManager.default.attributesOfItem(atPath: path)[.ownerAccountID] as? NSNumber,
      owner.uint32Value == getuid()
    {
      for file in [path, path + "-wal", path + "-shm"] where FileManager.default.fileExists(atPath: file) {
        chmod(file, 0o600)
      }
    }
    try Self.inspect(queue, path: path)
    // Switching to WAL needs a moment alone with the file: another process opening it at the
    // same time makes SQLite answer "locked" at once, so try again briefly.
    var switchAttempt = 0
    while true {
      do {
        try queue.writeWithoutTransaction { db in
          let mode = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
          guard mode == "wal" else {
            throw StoreError.cannotOpen(path: path, reason: "SQLite cannot use WAL mode on this file system")
          }
          // FULL syncs the WAL at every commit: a committed verdict survives a power loss, not
          // only a killed process.
          try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        break
      } catch let error as DatabaseError
        where (error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED) && switchAttempt < 40
      {
        switchAttempt += 1
        usleep(25_000)
      } catch {
        throw Self.storeError(error, path: path)
      }
    }
    // Two processes creating or upgrading the same file at once: the loser's migration fails
    // on what the winner is doing. Migrations already applied are skipped, so trying again
    // (briefly) finishes the file or finds it finished.
    var attempt = 0
    while true {
      do {
        try Schema.migrator.migrate(queue)
        break
      } catch {
        let complete = try? queue.read { db in try Schema.migrator.hasCompletedMigrations(db) }
        if complete == true { break }
        attempt += 1
        if attempt >= 40 { throw Self.storeError(error, path: path) }
        usleep(25_000)
      }
    }
    self.queue = queue
  }

  /// What the checks before any write found.
  private enum Inspection {
    case ours, fresh, foreign, newer
    case damaged(String)
  }

  /// Reads the header fields, the tables and `quick_check`; throws unless the file is ours
  /// (at this or an older schema) or empty.
  private static func inspect(_ queue: DatabaseQueue, path: String) throws(StoreError) {
    let inspection: Inspection
    do {
      inspection = try queue.read { db -> Inspection in
        let applicationID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
        let userVersion = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
        let tables = try String.fetchAll(
          db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        if applicationID == 0 {
          // An interrupted first migration may leave GRDB's empty bookkeeping table behind.
          let onlyBookkeeping = tables.allSatisfy { $0 == Schema.migrationsTable }
          guard userVersion == 0, onlyBookkeeping else { return .foreign }
          if !tables.isEmpty {
            let applied = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(Schema.migrationsTable)") ?? 0
            guard applied == 0 else { return .foreign }
          }
        } else if applicationID != Schema.applicationID {
          return .foreign
        }
        let problems = try String.fetchAll(db, sql: "PRAGMA quick_check")
        guard problems == ["ok"] else {
          return .damaged("quick_check: " + problems.prefix(3).joined(separator: "; "))
        }
        if applicationID == 0 { return .fresh }
        if userVersion > Schema.version { return .newer }
        if try Schema.migrator.hasBeenSuperseded(db) { return .newer }
        return .ours
      }
    } catch {
      throw storeError(error, path: path)
    }
    switch inspection {
    case .ours, .fresh: return
    case .foreign: throw .foreign(path: path)
    case .newer: throw .newerSchema(path: path)
    case .damaged(let reason): throw .damaged(path: path, reason: reason)
    }
  }

  /// Maps whatever GRDB or SQLite threw to our error, naming the file.
  static func storeError(_ error: any Error, path: String) -> StoreError {
    if let error = error as? StoreError { return error }
    guard let error = error as? DatabaseError else {
      return .database(path: path, reason: String(describing: error))
    }
    let reason = error.message ?? "SQLite error \(error.resultCode.rawValue)"
    switch error.resultCode {
    case .SQLITE_NOTADB, .SQLITE_CORRUPT: return .damaged(path: path, reason: reason)
    case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_READONLY, .SQLITE_AUTH:
      return .cannotOpen(path: path, reason: reason)
    default: return .database(path: path, reason: reason)
    }
  }

  /// Runs `body` in one `IMMEDIATE` transaction: it takes the write lock first, so a read
  /// followed by a write cannot race another process. Returns after the commit.
  func write<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
    do {
      return try queue.writeWithoutTransaction { db in
        var result: T?
        try db.inTransaction(.immediate) {
          result = try body(db)
          return .commit
        }
        return result!
      }
    } catch {
      throw Self.storeError(error, path: path)
    }
  }

  /// Runs `body` in a read transaction.
  func read<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
    do {
      return try queue.read(body)
    } catch {
      throw Self.storeError(error, path: path)
    }
  }

  public func close() async {}

  /// Runs `PRAGMA integrity_check` (the full check, slower than the `quick_check` done at
  /// opening) and returns its lines: `["ok"]` for a sound file.
  public func integrityCheck() throws(StoreError) -> [String] {
    try read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
  }
}
