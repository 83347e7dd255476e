import Foundation
import History
import HuntStore
import PostgresNIO

extension PostgresStore {
  public func createHunt(_ new: NewHunt, leasing claim: LeaseClaim?) async throws(StoreError) -> HuntRecord {
    let (hunts, leases) = (table("hunts"), table("leases"))
    let key = leaseLockKey
    return try await transaction { connection in
      // A retry after a lost answer finds the row its first try stored.
      try await connection.query(
        """
        INSERT INTO \(unescaped: hunts) (repository, bad, goods, paths, first_parent, environment, config_fingerprint,
          command_line, started_at, host, pool, creation_token)
        VALUES (\(new.repositoryPath), \(new.bad.lowercased()), \(try encodeList(new.goods.map { $0.lowercased() })),
          \(try encodeList(new.paths)), \(new.firstParent), \(new.environment), \(new.configFingerprint),
          \(new.commandLine), \(new.startedAt), \(new.host), \(new.pool), \(new.creationToken))
        ON CONFLICT (creation_token) DO NOTHING
        """, logger: Self.logger)
      let rows = try await Self.rows(
        connection, "SELECT * FROM \(unescaped: hunts) WHERE creation_token = \(new.creationToken)")
      guard let row = rows.first else {
        throw StoreError.database(path: "", reason: "the new hunt cannot be read back")
      }
      let hunt = try Self.hunt(from: row)
      if let claim {
        let now = try await Self.lockLeases(connection, key: key)
        let current = try await Self.leases(connection, table: leases, now: now)
        _ = try await Self.claim(
          connection, table: leases, environment: huntLeaseName(hunt.id), current: current,
          for: claim.forHunt(hunt.id), now: now)
      }
      return hunt
    }
  }

  public func finishHunt(id: Int64, outcome: String, endedAt: Date) async throws(StoreError) {
    let hunts = table("hunts")
    let location = location
    try await transaction { connection in
      let updated = try await Self.rows(
        connection,
        "UPDATE \(unescaped: hunts) SET outcome = \(outcome), ended_at = \(endedAt) WHERE id = \(id) RETURNING id")
      if updated.isEmpty { throw StoreError.unknownHunt(id: id, path: location) }
    }
  }

  public func unfinishedHunts(environment: String) async throws(StoreError) -> [HuntRecord] {
    let hunts = table("hunts")
    return try await transaction { connection in
      try await Self.rows(
        connection,
        "SELECT * FROM \(unescaped: hunts) WHERE environment = \(environment) AND outcome IS NULL ORDER BY id DESC"
      ).map(Self.hunt(from:))
    }
  }

  public func hunt(id: Int64) async throws(StoreError) -> HuntRecord? {
    let hunts = table("hunts")
    return try await transaction { connection in
      try await Self.rows(connection, "SELECT * FROM \(unescaped: hunts) WHERE id = \(id)").first.map(Self.hunt(from:))
    }
  }

  public func hunts(limit: Int) async throws(StoreError) -> [HuntRecord] {
    let hunts = table("hunts")
    return try await transaction { connection in
      try await Self.rows(connection, "SELECT * FROM \(unescaped: hunts) ORDER BY id DESC LIMIT \(limit)")
        .map(Self.hunt(from:))
    }
  }

  public func recordStep(_ step: StepRow) async throws(StoreError) {
    let (hunts, steps, cache) = (table("hunts"), table("steps"), table("verdict_cache"))
    let location = location
    try await transaction { connection in
      let found = try await Self.rows(
        connection, "SELECT config_fingerprint FROM \(unescaped: hunts) WHERE id = \(step.huntID) FOR SHARE")
      guard let fingerprint = try found.first?["config_fingerprint"].decode(String.self) else {
        throw StoreError.unknownHunt(id: step.huntID, path: location)
      }
      if let stored = try await Self.rows(
        connection, "SELECT * FROM \(unescaped: steps) WHERE hunt_id = \(step.huntID) AND number = \(step.number)"
      ).first {
        // The same step again is a retry whose first try committed: nothing to do.
        guard try Self.step(from: stored).isSameRecord(as: step) else {
          throw StoreError.duplicateStep(huntID: step.huntID, number: step.number, path: location)
        }
        return
      }
      let commit = step.commit.lowercased()
      try await connection.query(
        """
        INSERT INTO \(unescaped: steps) (hunt_id, number, commit_hex, environment, purpose, verdict, exit_code,
          deploy_seconds, test_seconds, log_path, started_at, ended_at, reused, note, dependency, dependency_revision)
        VALUES (\(step.huntID), \(step.number), \(commit), \(step.environment), \(step.purpose.rawValue),
          \(step.verdict?.rawValue), \(step.exitCode), \(step.deploySeconds), \(step.testSeconds), \(step.logPath),
          \(step.startedAt), \(step.endedAt), \(step.reused), \(step.note), \(step.dependency),
          \(step.dependencyRevision))
        """, logger: Self.logger)
      // A dependency step judged the culprit's tree with a pin rewritten, not a commit of the
      // repository: its verdict is not cached.
      guard let verdict = step.verdict, verdict != .skip, !step.reused, !step.purpose.deploysDependency else { return }
      try await connection.query(
        """
        INSERT INTO \(unescaped: cache) (fingerprint, environment, commit_hex, verdict, recorded_at, hunt_id)
        VALUES (\(fingerprint), \(step.environment), \(commit), \(verdict.rawValue), \(step.endedAt), \(step.huntID))
        ON CONFLICT (fingerprint, environment, commit_hex) DO UPDATE SET
          verdict = excluded.verdict, recorded_at = excluded.recorded_at, hunt_id = excluded.hunt_id
        """, logger: Self.logger)
    }
  }

  public func steps(huntID: Int64) async throws(StoreError) -> [StepRow] {
    let steps = table("steps")
    return try await transaction { connection in
      try await Self.rows(connection, "SELECT * FROM \(unescaped: steps) WHERE hunt_id = \(huntID) ORDER BY number")
        .map(Self.step(from:))
    }
  }

  public func cachedVerdicts(fingerprint: String, environment: String) async throws(StoreError) -> [String: Verdict] {
    let cache = table("verdict_cache")
    return try await transaction { connection in
      var verdicts = [String: Verdict]()
      for row in try await Self.rows(
        connection,
        "SELECT commit_hex, verdict FROM \(unescaped: cache) WHERE fingerprint = \(fingerprint) AND environment = \(environment)"
      ) {
        if let verdict = try Self.verdict(row["verdict"].decode(String?.self), in: "the verdict cache") {
          verdicts[try row["commit_hex"].decode(String.self)] = verdict
        }
      }
      return verdicts
    }
  }

  public func snapshot() async throws(StoreError) -> StateSnapshot {
    let (hunts, steps, cache, nights) = (table("hunts"), table("steps"), table("verdict_cache"), table("nights"))
    return try await transaction { connection in
      var snapshot = StateSnapshot()
      snapshot.hunts = try await Self.rows(connection, "SELECT * FROM \(unescaped: hunts) ORDER BY id")
        .map(Self.hunt(from:))
      snapshot.steps = try await Self.rows(connection, "SELECT * FROM \(unescaped: steps) ORDER BY hunt_id, number")
        .map(Self.step(from:))
      for row in try await Self.rows(connection, "SELECT * FROM \(unescaped: cache)") {
        guard let verdict = try Self.verdict(row["verdict"].decode(String?.self), in: "the verdict cache") else {
          continue
        }
        snapshot.cachedVerdicts.append(
          CachedVerdict(
            fingerprint: try row["fingerprint"].decode(String.self),
            environment: try row["environment"].decode(String.self), commit: try row["commit_hex"].decode(String.self),
            verdict: verdict, recordedAt: try row["recorded_at"].decode(Date.self),
            huntID: try row["hunt_id"].decode(Int64?.self)))
      }
      snapshot.nights = try await Self.rows(connection, "SELECT * FROM \(unescaped: nights) ORDER BY id")
        .map(Self.night(from:))
      return snapshot
    }
  }

  /// Copies a snapshot (another store's history) in, in one transaction: all of it or
  /// nothing. Hunts get the database's next ids; each is marked with `token(hunt)`, so
  /// that copying the same history again adds nothing. Returns how many hunts were added.
  public func importSnapshot(_ snapshot: StateSnapshot, token: @escaping @Sendable (HuntRecord) -> String)
    async throws(StoreError) -> Int
  {
    let (hunts, steps, cache, nights) = (table("hunts"), table("steps"), table("verdict_cache"), table("nights"))
    // One round trip per row: a big history takes a while, so one try may take as long.
    return try await transaction(within: .seconds(600), attempt: .seconds(600)) { connection in
      var newIDs = [Int64: Int64]()
      var added = 0
      for hunt in snapshot.hunts {
        let mark = token(hunt)
        if let existing = try await Self.rows(
          connection, "SELECT id FROM \(unescaped: hunts) WHERE creation_token = \(mark)"
        ).first {
          newIDs[hunt.id] = try existing["id"].decode(Int64.self)
          continue
        }
        let inserted = try await Self.rows(
          connection,
          """
          INSERT INTO \(unescaped: hunts) (repository, bad, goods, paths, first_parent, environment, config_fingerprint,
            command_line, started_at, ended_at, outcome, host, pool, creation_token)
          VALUES (\(hunt.repositoryPath), \(hunt.bad), \(try encodeList(hunt.goods)), \(try encodeList(hunt.paths)),
            \(hunt.firstParent), \(hunt.environment), \(hunt.configFingerprint), \(hunt.commandLine), \(hunt.startedAt),
            \(hunt.endedAt), \(hunt.outcome), \(hunt.host), \(hunt.pool), \(mark))
          RETURNING id
          """)
        newIDs[hunt.id] = try inserted.first?["id"].decode(Int64.self)
        added += 1
      }
      let fresh = Set(
        snapshot.hunts.filter { hunt in newIDs[hunt.id] != nil }.map(\.id))
      for step in snapshot.steps {
        guard fresh.contains(step.huntID), let id = newIDs[step.huntID] else { continue }
        try await connection.query(
          """
          INSERT INTO \(unescaped: steps) (hunt_id, number, commit_hex, environment, purpose, verdict, exit_code,
            deploy_seconds, test_seconds, log_path, started_at, ended_at, reused, note, dependency,
            dependency_revision)
          VALUES (\(id), \(step.number), \(step.commit), \(step.environment), \(step.purpose.rawValue),
            \(step.verdict?.rawValue), \(step.exitCode), \(step.deploySeconds), \(step.testSeconds), \(step.logPath),
            \(step.startedAt), \(step.endedAt), \(step.reused), \(step.note), \(step.dependency),
            \(step.dependencyRevision))
          ON CONFLICT (hunt_id, number) DO NOTHING
          """, logger: Self.logger)
      }
      for row in snapshot.cachedVerdicts {
        let id = row.huntID.flatMap { newIDs[$0] }
        // A newer verdict for the commit already there wins, as in recordStep.
        try await connection.query(
          """
          INSERT INTO \(unescaped: cache) (fingerprint, environment, commit_hex, verdict, recorded_at, hunt_id)
          VALUES (\(row.fingerprint), \(row.environment), \(row.commit), \(row.verdict.rawValue), \(row.recordedAt), \(id))
          ON CONFLICT (fingerprint, environment, commit_hex) DO UPDATE SET
            verdict = excluded.verdict, recorded_at = excluded.recorded_at, hunt_id = excluded.hunt_id
            WHERE \(unescaped: cache).recorded_at < excluded.recorded_at
          """, logger: Self.logger)
      }
      for night in snapshot.nights {
        let id = night.huntID.flatMap { newIDs[$0] }
        try await connection.query(
          """
          INSERT INTO \(unescaped: nights) (branch, environment, config_fingerprint, commit_hex, verdict, tested_at, hunt_id)
          VALUES (\(night.branch), \(night.environment), \(night.configFingerprint), \(night.commit),
            \(night.verdict.rawValue), \(night.testedAt), \(id))
          ON CONFLICT (branch, environment, config_fingerprint, commit_hex) DO NOTHING
          """, logger: Self.logger)
      }
      return added
    }
  }

  // MARK: Rows

  static func rows(_ connection: PostgresConnection, _ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
    var rows = [PostgresRandomAccessRow]()
    for try await row in try await connection.query(query, logger: logger) { rows.append(row.makeRandomAccess()) }
    return rows
  }

  static func hunt(from row: PostgresRandomAccessRow) throws -> HuntRecord {
    HuntRecord(
      id: try row["id"].decode(Int64.self), repositoryPath: try row["repository"].decode(String.self),
      bad: try row["bad"].decode(String.self), goods: try decodeList(row["goods"].decode(String.self)),
      paths: try decodeList(row["paths"].decode(String.self)), firstParent: try row["first_parent"].decode(Bool.self),
      environment: try row["environment"].decode(String.self),
      configFingerprint: try row["config_fingerprint"].decode(String.self),
      commandLine: try row["command_line"].decode(String.self), startedAt: try row["started_at"].decode(Date.self),
      host: try row["host"].decode(String.self), pool: try row["pool"].decode(Bool.self),
      endedAt: try row["ended_at"].decode(Date?.self), outcome: try row["outcome"].decode(String?.self))
  }

  static func step(from row: PostgresRandomAccessRow) throws -> StepRow {
    let purposeText = try row["purpose"].decode(String.self)
    guard let purpose = StepPurpose(rawValue: purposeText) else {
      throw StoreError.damaged(path: "", reason: "a step holds the unknown purpose '\(purposeText)'")
    }
    return StepRow(
      huntID: try row["hunt_id"].decode(Int64.self), number: try row["number"].decode(Int.self),
      commit: try row["commit_hex"].decode(String.self), environment: try row["environment"].decode(String.self),
      purpose: purpose, verdict: try verdict(row["verdict"].decode(String?.self), in: "a step"),
      exitCode: try row["exit_code"].decode(Int32?.self), deploySeconds: try row["deploy_seconds"].decode(Double?.self),
      testSeconds: try row["test_seconds"].decode(Double?.self), logPath: try row["log_path"].decode(String?.self),
      startedAt: try row["started_at"].decode(Date.self), endedAt: try row["ended_at"].decode(Date.self),
      reused: try row["reused"].decode(Bool.self), note: try row["note"].decode(String?.self),
      dependency: try row["dependency"].decode(String?.self),
      dependencyRevision: try row["dependency_revision"].decode(String?.self))
  }

  static func night(from row: PostgresRandomAccessRow) throws -> NightRecord {
    guard let verdict = try verdict(row["verdict"].decode(String?.self), in: "a night") else {
      throw StoreError.damaged(path: "", reason: "a night without a verdict")
    }
    return NightRecord(
      id: try row["id"].decode(Int64.self), branch: try row["branch"].decode(String.self),
      environment: try row["environment"].decode(String.self),
      configFingerprint: try row["config_fingerprint"].decode(String.self),
      commit: try row["commit_hex"].decode(String.self), verdict: verdict,
      testedAt: try row["tested_at"].decode(Date.self),
      huntID: try row["hunt_id"].decode(Int64?.self))
  }

  /// A stored verdict (nil stays nil); any other word is damage, named, never a default.
  static func verdict(_ text: String?, in place: String) throws -> Verdict? {
    guard let text else { return nil }
    guard let verdict = Verdict(rawValue: text) else {
      throw StoreError.damaged(path: "", reason: "unknown verdict '\(text)' in \(place)")
    }
    return verdict
  }
}

/// Lists of commits and paths are stored as JSON arrays of strings, as in the SQLite file.
func encodeList(_ list: [String]) throws -> String {
  String(decoding: try JSONEncoder().encode(list), as: UTF8.self)
}

func decodeList(_ text: String) throws -> [String] {
  do {
    return try JSONDecoder().decode([String].self, from: Data(text.utf8))
  } catch {
    throw StoreError.damaged(path: "", reason: "a stored list is not a JSON array: \(text)")
  }
}
