import Foundation
import GRDB

extension StateStore {
  /// Takes the lock of `environment` for hunt `huntID` (one hunt per environment at a time).
  ///
  /// Runs in one `IMMEDIATE` transaction, so two processes racing for the lock cannot both
  /// win. A lock held by a process on this `host` that no longer exists (`kill(pid, 0)` fails
  /// with `ESRCH`) is stale and taken over; any other holder makes this throw `.locked`,
  /// naming it. Calling it again with the same hunt, pid and host is a no-op.
  ///
  /// - Returns: the stale holder that was replaced, if any, so the caller can say so.
  @discardableResult
  public func acquireLock(
    environment: String, huntID: Int64, pid: Int32 = getpid(), host: String = ProcessInfo.processInfo.hostName,
    at date: Date = Date()
  ) throws(StoreError) -> LockHolder? {
    try write { db in
      try Self.claimLock(
        db, environment: environment, holder: LockHolder(pid: pid, host: host, startedAt: date, huntID: huntID))
    }
  }

  /// Stores a new hunt and takes its environment's lock in one transaction: when the
  /// environment is locked, this throws `.locked` and stores nothing.
  public func createLockedHunt(
    _ new: NewHunt, pid: Int32 = getpid(), host: String = ProcessInfo.processInfo.hostName
  ) throws(StoreError) -> (hunt: HuntRecord, replacedStaleLock: LockHolder?) {
    try write { db in
      let hunt = try Self.insertHunt(new, db)
      let stale = try Self.claimLock(
        db, environment: new.environment,
        holder: LockHolder(pid: pid, host: host, startedAt: new.startedAt, huntID: hunt.id))
      return (hunt, stale)
    }
  }

  /// Releases the lock of `environment` if hunt `huntID` holds it; another hunt's lock is
  /// left alone.
  ///
  /// - Returns: whether a lock was released.
  @discardableResult
  public func releaseLock(environment: String, huntID: Int64) throws(StoreError) -> Bool {
    try write { db in
      try db.execute(
        sql: "DELETE FROM locks WHERE environment = ? AND hunt_id = ?", arguments: [environment, huntID])
      return db.changesCount > 0
    }
  }

  /// Removes the lock of `environment` whoever holds it, for a user who knows the holder is
  /// gone (a stale lock from another host cannot be detected).
  ///
  /// - Returns: the holder that was removed, if any.
  @discardableResult
  public func breakLock(environment: String) throws(StoreError) -> LockHolder? {
    try write { db in
      let holder = try Self.lockHolder(db, environment: environment)
      try db.execute(sql: "DELETE FROM locks WHERE environment = ?", arguments: [environment])
      return holder
    }
  }

  /// Who holds the lock of `environment`, if anyone (alive or not).
  public func lockHolder(environment: String) throws(StoreError) -> LockHolder? {
    try read { db in try Self.lockHolder(db, environment: environment) }
  }

  /// Whether a process with this id exists on this machine. `EPERM` means it exists but
  /// belongs to someone else: still alive.
  public static func isProcessAlive(_ pid: Int32) -> Bool {
    guard pid > 0 else { return false }
    return kill(pid, 0) == 0 || errno != ESRCH
  }

  static func lockHolder(_ db: Database, environment: String) throws -> LockHolder? {
    try Row.fetchOne(
      db, sql: "SELECT hunt_id, pid, host, started_at FROM locks WHERE environment = ?", arguments: [environment]
    ).map { row in
      LockHolder(pid: row["pid"], host: row["host"], startedAt: row["started_at"], huntID: row["hunt_id"])
    }
  }

  /// Inserts the lock row; call inside an `IMMEDIATE` transaction.
  static func claimLock(_ db: Database, environment: String, holder: LockHolder) throws -> LockHolder? {
    var replaced: LockHolder?
    if let current = try lockHolder(db, environment: environment) {
      if current.huntID == holder.huntID && current.pid == holder.pid && current.host == holder.host {
        return nil
      }
      guard current.host == holder.host, !isProcessAlive(current.pid) else {
        throw StoreError.locked(environment: environment, holder: current)
      }
      try db.execute(sql: "DELETE FROM locks WHERE environment = ?", arguments: [environment])
      replaced = current
    }
    try db.execute(
      sql: "INSERT INTO locks (environment, hunt_id, pid, host, started_at) VALUES (?, ?, ?, ?, ?)",
      arguments: [environment, holder.huntID, holder.pid, holder.host, holder.startedAt])
    return replaced
  }
}

extension StateStore {
  /// Removes every lock held by hunt `huntID` (a hunt over several environments holds one
  /// per environment and one under their joined names).
  ///
  /// - Returns: the environments whose lock was removed, sorted.
  @discardableResult
  public func breakLocks(ofHunt huntID: Int64) throws(StoreError) -> [String] {
    try write { db in
      let names = try String.fetchAll(
        db, sql: "SELECT environment FROM locks WHERE hunt_id = ? ORDER BY environment", arguments: [huntID])
      try db.execute(sql: "DELETE FROM locks WHERE hunt_id = ?", arguments: [huntID])
      return names
    }
  }
}
