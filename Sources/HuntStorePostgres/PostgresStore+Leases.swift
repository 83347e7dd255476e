import Foundation
import History
import HuntStore
import PostgresNIO

// Leases on the server. Every change that decides who holds what takes one advisory lock
// (per schema) for its transaction, so that deciding and writing cannot interleave with
// another host's; renewals only touch their own rows, and wait for (then see) a take-over
// of them. Times are the server's `clock_timestamp()`.
extension PostgresStore {
  var leaseLockKey: String { "bisect-deploy-leases:" + schema }

  public func acquireLeases(_ environments: [String], for claim: LeaseClaim) async throws(StoreError) -> [TakenOver] {
    let leases = table("leases")
    let key = leaseLockKey
    return try await transaction { connection in
      let now = try await Self.lockLeases(connection, key: key)
      var taken = [TakenOver]()
      let current = try await Self.leases(connection, table: leases, now: now)
      for environment in environments {
        if let previous = try await Self.claim(
          connection, table: leases, environment: environment, current: current, for: claim, now: now)
        {
          taken.append(previous)
        }
      }
      return taken
    }
  }

  public func renewLeases(_ environments: [String], for claim: LeaseClaim) async throws(StoreError) -> Set<String> {
    let leases = table("leases")
    return try await transaction { connection in
      var held = Set<String>()
      for row in try await Self.rows(
        connection,
        """
        UPDATE \(unescaped: leases) SET renewed_at = clock_timestamp(),
          expires_at = clock_timestamp() + \(claim.duration.seconds) * interval '1 second'
        WHERE environment = ANY(\(environments)) AND token = \(claim.token)
        RETURNING environment
        """)
      {
        held.insert(try row["environment"].decode(String.self))
      }
      return held
    }
  }

  public func releaseLeases(_ environments: [String], for claim: LeaseClaim) async throws(StoreError) {
    let leases = table("leases")
    // Briefly: a lease not given back runs out by itself, and a hunt giving its leases back
    // is ending.
    try await execute(
      "DELETE FROM \(unescaped: leases) WHERE environment = ANY(\(environments)) AND token = \(claim.token)",
      within: .seconds(3))
  }

  public func takeFromPool(_ pool: [String], wants: Int, for claim: LeaseClaim) async throws(StoreError)
    -> PoolAnswer
  {
    let (leases, queue) = (table("leases"), table("pool_queue"))
    let key = leaseLockKey
    let name = poolKey(pool)
    return try await transaction { connection in
      let now = try await Self.lockLeases(connection, key: key)
      // Environments of the pool this process holds already: an earlier try of this same
      // call committed, and only its answer was lost. The same answer, not a new place in line.
      let ours = try await Self.leases(connection, table: leases, now: now).filter {
        pool.contains($0.environment) && $0.holder.token == claim.token && !$0.expired
      }
      if !ours.isEmpty {
        try await connection.query(
          "DELETE FROM \(unescaped: queue) WHERE pool = \(name) AND token = \(claim.token)", logger: Self.logger)
        let held = Set(ours.map(\.environment))
        return PoolAnswer.granted(pool.filter { held.contains($0) }, takenOver: [])
      }
      for row in try await Self.rows(connection, "SELECT * FROM \(unescaped: queue) WHERE pool = \(name)") {
        let place = PoolPlace(
          id: try row["id"].decode(Int64.self), token: try row["token"].decode(String.self),
          process: try row["process"].decode(String.self), expiresAt: try row["expires_at"].decode(Date.self))
        if place.isStale(now: now) {
          try await connection.query("DELETE FROM \(unescaped: queue) WHERE id = \(place.id)", logger: Self.logger)
        }
      }
      let expiry = now.addingTimeInterval(claim.duration.seconds)
      try await connection.query(
        """
        INSERT INTO \(unescaped: queue) (pool, hunt_id, token, host, pid, process, wants, enqueued_at, expires_at)
        VALUES (\(name), \(claim.huntID), \(claim.token), \(claim.host), \(claim.pid), \(claim.process), \(wants),
          \(now), \(expiry))
        ON CONFLICT (pool, token) DO UPDATE SET expires_at = excluded.expires_at, wants = excluded.wants
        """, logger: Self.logger)
      let counted = try await Self.rows(
        connection,
        """
        SELECT count(*) AS ahead FROM \(unescaped: queue) WHERE pool = \(name)
          AND id < (SELECT id FROM \(unescaped: queue) WHERE pool = \(name) AND token = \(claim.token))
        """)
      let ahead = Int(try counted.first?["ahead"].decode(Int64.self) ?? 0)
      let current = try await Self.leases(connection, table: leases, now: now).filter { pool.contains($0.environment) }
      let free = claim.freeEnvironments(of: pool, leases: current)
      guard ahead == 0, !free.isEmpty else { return PoolAnswer.waiting(ahead: ahead, holders: current) }
      let chosen = Array(free.prefix(max(1, wants)))
      var taken = [TakenOver]()
      for environment in chosen {
        if let previous = try await Self.claim(
          connection, table: leases, environment: environment, current: current, for: claim, now: now)
        {
          taken.append(previous)
        }
      }
      try await connection.query(
        "DELETE FROM \(unescaped: queue) WHERE pool = \(name) AND token = \(claim.token)", logger: Self.logger)
      return PoolAnswer.granted(chosen, takenOver: taken)
    }
  }

  public func leavePool(_ pool: [String], for claim: LeaseClaim) async throws(StoreError) {
    let queue = table("pool_queue")
    let name = poolKey(pool)
    try await execute("DELETE FROM \(unescaped: queue) WHERE pool = \(name) AND token = \(claim.token)")
  }

  public func activeHunts() async throws(StoreError) -> Set<Int64> {
    let (leases, queue) = (table("leases"), table("pool_queue"))
    return try await transaction { connection in
      let now = try await Self.serverTime(connection)
      var active = Set(
        try await Self.leases(connection, table: leases, now: now).filter {
          !$0.expired && !ProcessIdentity.isGone($0.holder.process)
        }.map(\.holder.huntID))
      for row in try await Self.rows(connection, "SELECT * FROM \(unescaped: queue)") {
        let place = PoolPlace(
          id: try row["id"].decode(Int64.self), token: try row["token"].decode(String.self),
          process: try row["process"].decode(String.self), expiresAt: try row["expires_at"].decode(Date.self))
        if !place.isStale(now: now) { active.insert(try row["hunt_id"].decode(Int64.self)) }
      }
      return active
    }
  }

  public func leases() async throws(StoreError) -> [Lease] {
    let leases = table("leases")
    return try await transaction { connection in
      let now = try await Self.serverTime(connection)
      return try await Self.leases(connection, table: leases, now: now)
    }
  }

  public func breakLease(environment: String) async throws(StoreError) -> LeaseHolder? {
    let leases = table("leases")
    let key = leaseLockKey
    return try await transaction { connection in
      let now = try await Self.lockLeases(connection, key: key)
      let holder = try await Self.leases(connection, table: leases, now: now).first { $0.environment == environment }?
        .holder
      try await connection.query(
        "DELETE FROM \(unescaped: leases) WHERE environment = \(environment)", logger: Self.logger)
      return holder
    }
  }

  public func breakLeases(ofHunt huntID: Int64) async throws(StoreError) -> [String] {
    let leases = table("leases")
    let key = leaseLockKey
    return try await transaction { connection in
      _ = try await Self.lockLeases(connection, key: key)
      var names = [String]()
      for row in try await Self.rows(
        connection, "DELETE FROM \(unescaped: leases) WHERE hunt_id = \(huntID) RETURNING environment")
      {
        names.append(try row["environment"].decode(String.self))
      }
      return names.sorted()
    }
  }

  /// Takes the leases' advisory lock for this transaction and returns the server's time.
  static func lockLeases(_ connection: PostgresConnection, key: String) async throws -> Date {
    try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(key)))", logger: logger)
    return try await serverTime(connection)
  }

  static func serverTime(_ connection: PostgresConnection) async throws -> Date {
    guard let row = try await rows(connection, "SELECT clock_timestamp() AS now").first else {
      throw StoreError.database(path: "", reason: "the server did not say its time")
    }
    return try row["now"].decode(Date.self)
  }

  static func leases(_ connection: PostgresConnection, table: String, now: Date) async throws -> [Lease] {
    try await rows(connection, "SELECT * FROM \(unescaped: table) ORDER BY environment").map { row in
      let holder = LeaseHolder(
        huntID: try row["hunt_id"].decode(Int64.self), host: try row["host"].decode(String.self),
        pid: try row["pid"].decode(Int32.self), process: try row["process"].decode(String.self),
        token: try row["token"].decode(String.self), acquiredAt: try row["acquired_at"].decode(Date.self),
        renewedAt: try row["renewed_at"].decode(Date.self), expiresAt: try row["expires_at"].decode(Date.self))
      return Lease(
        environment: try row["environment"].decode(String.self), holder: holder, expired: holder.expiresAt <= now)
    }
  }

  /// Takes or renews one lease for `claim` inside a transaction holding the leases' lock.
  static func claim(
    _ connection: PostgresConnection, table: String, environment: String, current: [Lease], for claim: LeaseClaim,
    now: Date
  ) async throws -> TakenOver? {
    var replaced: TakenOver?
    switch LeaseDecision(current: current.first { $0.environment == environment }, claim: claim) {
    case .refuse(let holder):
      throw StoreError.locked(environment: environment, holder: holder)
    case .renew:
      let expiry = now.addingTimeInterval(claim.duration.seconds)
      try await connection.query(
        """
        UPDATE \(unescaped: table) SET hunt_id = \(claim.huntID), renewed_at = \(now), expires_at = \(expiry)
        WHERE environment = \(environment)
        """, logger: logger)
      return nil
    case .takeOver(let previous):
      replaced = previous
      try await connection.query("DELETE FROM \(unescaped: table) WHERE environment = \(environment)", logger: logger)
    case .take:
      break
    }
    let holder = claim.holder(acquiredAt: now, now: now)
    try await connection.query(
      """
      INSERT INTO \(unescaped: table) (environment, hunt_id, host, pid, process, token, acquired_at, renewed_at, expires_at)
      VALUES (\(environment), \(holder.huntID), \(holder.host), \(holder.pid), \(holder.process), \(holder.token),
        \(holder.acquiredAt), \(holder.renewedAt), \(holder.expiresAt))
      """, logger: logger)
    return replaced
  }
}

extension PostgresStore {
  public func recordNight(
    branch: String, environment: String, fingerprint: String, commit: String, verdict: Verdict, testedAt: Date
  ) async throws(StoreError) -> NightRecord {
    let nights = table("nights")
    return try await transaction { connection in
      try await connection.query(
        """
        INSERT INTO \(unescaped: nights) (branch, environment, config_fingerprint, commit_hex, verdict, tested_at)
        VALUES (\(branch), \(environment), \(fingerprint), \(commit), \(verdict.rawValue), \(testedAt))
        ON CONFLICT (branch, environment, config_fingerprint, commit_hex) DO NOTHING
        """, logger: Self.logger)
      guard
        let row = try await Self.rows(
          connection,
          """
          SELECT * FROM \(unescaped: nights) WHERE branch = \(branch) AND environment = \(environment)
            AND config_fingerprint = \(fingerprint) AND commit_hex = \(commit)
          """
        ).first
      else { throw StoreError.database(path: "", reason: "the night cannot be read back") }
      return try Self.night(from: row)
    }
  }

  public func attachHunt(_ huntID: Int64, toNight id: Int64) async throws(StoreError) {
    let nights = table("nights")
    try await execute("UPDATE \(unescaped: nights) SET hunt_id = \(huntID) WHERE id = \(id)")
  }

  public func night(branch: String, environment: String, fingerprint: String, commit: String) async throws(StoreError)
    -> NightRecord?
  {
    let nights = table("nights")
    return try await transaction { connection in
      try await Self.rows(
        connection,
        """
        SELECT * FROM \(unescaped: nights) WHERE branch = \(branch) AND environment = \(environment)
          AND config_fingerprint = \(fingerprint) AND commit_hex = \(commit)
        """
      ).first.map(Self.night(from:))
    }
  }

  public func latestNight(branch: String, environment: String, fingerprint: String) async throws(StoreError)
    -> NightRecord?
  {
    let nights = table("nights")
    return try await transaction { connection in
      try await Self.rows(
        connection,
        """
        SELECT * FROM \(unescaped: nights) WHERE branch = \(branch) AND environment = \(environment)
          AND config_fingerprint = \(fingerprint)
        ORDER BY tested_at DESC, id DESC LIMIT 1
        """
      ).first.map(Self.night(from:))
    }
  }

  public func lastGoodNight(branch: String, environment: String, fingerprint: String) async throws(StoreError)
    -> NightRecord?
  {
    let nights = table("nights")
    return try await transaction { connection in
      try await Self.rows(
        connection,
        """
        SELECT * FROM \(unescaped: nights) WHERE branch = \(branch) AND environment = \(environment)
          AND config_fingerprint = \(fingerprint) AND verdict = 'good'
        ORDER BY tested_at DESC, id DESC LIMIT 1
        """
      ).first.map(Self.night(from:))
    }
  }
}
