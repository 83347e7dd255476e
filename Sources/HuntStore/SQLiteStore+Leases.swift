import Foundation
import GRDB

// Leases in the state file. Every change is one `IMMEDIATE` transaction, which holds SQLite's
// write lock from its start: of two processes racing for one environment exactly one wins, and
// a read followed by a write cannot interleave with another process's. The clock is this
// machine's: every process using the file runs here.
extension SQLiteStore {
  public func acquireLeases(_ environments: [String], for claim: LeaseClaim) throws(StoreError) -> [TakenOver] {
    try write { db in
      let now = Date()
      var taken = [TakenOver]()
      for environment in environments {
        if let previous = try Self.claim(db, environment: environment, for: claim, now: now) { taken.append(previous) }
      }
      return taken
    }
  }

  public func renewLeases(_ environments: [String], for claim: LeaseClaim) throws(StoreError) -> Set<String> {
    try write { db in
      let now = Date()
      var held = Set<String>()
      for environment in environments {
        try db.execute(
          sql: "UPDATE leases SET renewed_at = ?, expires_at = ? WHERE environment = ? AND token = ?",
          arguments: [now, now.addingTimeInterval(claim.duration.seconds), environment, claim.token])
        if db.changesCount > 0 { held.insert(environment) }
      }
      return held
    }
  }

  public func releaseLeases(_ environments: [String], for claim: LeaseClaim) throws(StoreError) {
    try write { db in
      for environment in environments {
        try db.execute(
          sql: "DELETE FROM leases WHERE environment = ? AND token = ?", arguments: [environment, claim.token])
      }
    }
  }

  public func takeFromPool(_ pool: [String], wants: Int, for claim: LeaseClaim) throws(StoreError) -> PoolAnswer {
    let key = poolKey(pool)
    return try write { db in
      let now = Date()
      for row in try Row.fetchAll(db, sql: "SELECT * FROM pool_queue WHERE pool = ?", arguments: [key]) {
        let place = PoolPlace(id: row["id"], token: row["token"], process: row["process"], expiresAt: row["expires_at"])
        if place.isStale(now: now) { try db.execute(sql: "DELETE FROM pool_queue WHERE id = ?", arguments: [place.id]) }
      }
      let expiry = now.addingTimeInterval(claim.duration.seconds)
      try db.execute(
        sql: "UPDATE pool_queue SET expires_at = ?, wants = ? WHERE pool = ? AND token = ?",
        arguments: [expiry, wants, key, claim.token])
      if db.changesCount == 0 {
        try db.execute(
          sql: """
            INSERT INTO pool_queue (pool, hunt_id, token, host, pid, process, wants, enqueued_at, expires_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
          arguments: [key, claim.huntID, claim.token, claim.host, claim.pid, claim.process, wants, now, expiry])
      }
      let ahead =
        try Int.fetchOne(
          db,
          sql: """
            SELECT COUNT(*) FROM pool_queue WHERE pool = ?
              AND id < (SELECT id FROM pool_queue WHERE pool = ? AND token = ?)
            """, arguments: [key, key, claim.token]) ?? 0
      let current = try Self.leases(db, now: now).filter { pool.contains($0.environment) }
      let free = claim.freeEnvironments(of: pool, leases: current)
      guard ahead == 0, !free.isEmpty else { return .waiting(ahead: ahead, holders: current) }
      let chosen = Array(free.prefix(max(1, wants)))
      var taken = [TakenOver]()
      for environment in chosen {
        if let previous = try Self.claim(db, environment: environment, for: claim, now: now) { taken.append(previous) }
      }
      try db.execute(sql: "DELETE FROM pool_queue WHERE pool = ? AND token = ?", arguments: [key, claim.token])
      return .granted(chosen, takenOver: taken)
    }
  }

  public func leavePool(_ pool: [String], for claim: LeaseClaim) throws(StoreError) {
    let key = poolKey(pool)
    try write { db in
      try db.execute(sql: "DELETE FROM pool_queue WHERE pool = ? AND token = ?", arguments: [key, claim.token])
    }
  }

  public func activeHunts() throws(StoreError) -> Set<Int64> {
    try read { db in
      let now = Date()
      var active = Set(
        try Self.leases(db, now: now).filter { !$0.expired && !ProcessIdentity.isGone($0.holder.process) }.map(
          \.holder.huntID))
      for row in try Row.fetchAll(db, sql: "SELECT * FROM pool_queue") {
        let place = PoolPlace(id: row["id"], token: row["token"], process: row["process"], expiresAt: row["expires_at"])
        if !place.isStale(now: now) { active.insert(row["hunt_id"]) }
      }
      return active
    }
  }

  public func leases() throws(StoreError) -> [Lease] {
    try read { db in try Self.leases(db, now: Date()) }
  }

  public func breakLease(environment: String) throws(StoreError) -> LeaseHolder? {
    try write { db in
      let holder = try Self.leases(db, now: Date()).first { $0.environment == environment }?.holder
      try db.execute(sql: "DELETE FROM leases WHERE environment = ?", arguments: [environment])
      return holder
    }
  }

  public func breakLeases(ofHunt huntID: Int64) throws(StoreError) -> [String] {
    try write { db in
      let names = try String.fetchAll(
        db, sql: "SELECT environment FROM leases WHERE hunt_id = ? ORDER BY environment", arguments: [huntID])
      try db.execute(sql: "DELETE FROM leases WHERE hunt_id = ?", arguments: [huntID])
      return names
    }
  }

  static func leases(_ db: Database, now: Date) throws -> [Lease] {
    try Row.fetchAll(db, sql: "SELECT * FROM leases ORDER BY environment").map { row in
      let holder = LeaseHolder(
        huntID: row["hunt_id"], host: row["host"], pid: row["pid"], process: row["process"], token: row["token"],
        acquiredAt: row["acquired_at"], renewedAt: row["renewed_at"], expiresAt: row["expires_at"])
      return Lease(environment: row["environment"], holder: holder, expired: holder.expiresAt <= now)
    }
  }

  /// Takes or renews one lease for `claim`; call inside an `IMMEDIATE` transaction. Returns
  /// the holder it replaced, if any; throws `.locked` when a live holder has it.
  static func claim(_ db: Database, environment: String, for claim: LeaseClaim, now: Date) throws -> TakenOver? {
    var replaced: TakenOver?
    switch LeaseDecision(current: try leases(db, now: now).first { $0.environment == environment }, claim: claim) {
    case .refuse(let holder):
      throw StoreError.locked(environment: environment, holder: holder)
    case .renew:
      try db.execute(
        sql: "UPDATE leases SET hunt_id = ?, renewed_at = ?, expires_at = ? WHERE environment = ?",
        arguments: [claim.huntID, now, now.addingTimeInterval(claim.duration.seconds), environment])
      return nil
    case .takeOver(let previous):
      replaced = previous
      try db.execute(sql: "DELETE FROM leases WHERE environment = ?", arguments: [environment])
    case .take:
      break
    }
    let holder = claim.holder(acquiredAt: now, now: now)
    try db.execute(
      sql: """
        INSERT INTO leases (environment, hunt_id, host, pid, process, token, acquired_at, renewed_at, expires_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
      arguments: [
        environment, holder.huntID, holder.host, holder.pid, holder.process, holder.token, holder.acquiredAt,
        holder.renewedAt, holder.expiresAt,
      ])
    return replaced
  }
}
