import Foundation
import GRDB
import History

extension SQLiteStore {
  /// Stores a new hunt, taking no lease (for callers that hold the file itself).
  public func createHunt(_ new: NewHunt) throws(StoreError) -> HuntRecord {
    try createHunt(new, leasing: nil)
  }

  public func createHunt(_ new: NewHunt, leasing claim: LeaseClaim?) throws(StoreError) -> HuntRecord {
    try write { db in
      let hunt = try Self.insertHunt(new, db)
      if let claim {
        _ = try Self.claim(db, environment: huntLeaseName(hunt.id), for: claim.forHunt(hunt.id), now: Date())
      }
      return hunt
    }
  }

  public func finishHunt(id: Int64, outcome: String, endedAt: Date) throws(StoreError) {
    try write { db in
      try db.execute(
        sql: "UPDATE hunts SET outcome = ?, ended_at = ? WHERE id = ?", arguments: [outcome, endedAt, id])
      if db.changesCount == 0 { throw StoreError.unknownHunt(id: id, path: path) }
    }
  }

  public func unfinishedHunts(environment: String) throws(StoreError) -> [HuntRecord] {
    try read { db in
      try Row.fetchAll(
        db, sql: "SELECT * FROM hunts WHERE environment = ? AND outcome IS NULL ORDER BY id DESC",
        arguments: [environment]
      ).map(Self.hunt(from:))
    }
  }

  public func hunt(id: Int64) throws(StoreError) -> HuntRecord? {
    try read { db in
      try Row.fetchOne(db, sql: "SELECT * FROM hunts WHERE id = ?", arguments: [id]).map(Self.hunt(from:))
    }
  }

  public func hunts(limit: Int) throws(StoreError) -> [HuntRecord] {
    try read { db in
      try Row.fetchAll(db, sql: "SELECT * FROM hunts ORDER BY id DESC LIMIT ?", arguments: [limit])
        .map(Self.hunt(from:))
    }
  }

  public func recordStep(_ step: StepRow) throws(StoreError) {
    try write { db in
      guard
        let fingerprint = try String.fetchOne(
          db, sql: "SELECT config_fingerprint FROM hunts WHERE id = ?", arguments: [step.huntID])
      else { throw StoreError.unknownHunt(id: step.huntID, path: path) }
      if let stored = try Row.fetchOne(
        db, sql: "SELECT * FROM steps WHERE hunt_id = ? AND number = ?", arguments: [step.huntID, step.number])
      {
        // The same step again is a retry whose first try committed: nothing to do.
        guard try Self.step(from: stored).isSameRecord(as: step) else {
          throw StoreError.duplicateStep(huntID: step.huntID, number: step.number, path: path)
        }
        return
      }
      let commit = step.commit.lowercased()
      try db.execute(
        sql: """
          INSERT INTO steps (hunt_id, number, commit_hex, environment, purpose, verdict, exit_code,
            deploy_seconds, test_seconds, log_path, started_at, ended_at, reused, note, dependency,
            dependency_revision)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
          """,
        arguments: [
          step.huntID, step.number, commit, step.environment, step.purpose.rawValue, step.verdict?.rawValue,
          step.exitCode, step.deploySeconds, step.testSeconds, step.logPath, step.startedAt, step.endedAt,
          step.reused, step.note, step.dependency, step.dependencyRevision,
        ])
      guard let verdict = step.verdict, verdict != .skip, !step.reused, !step.purpose.deploysDependency else { return }
      try db.execute(
        sql: """
          INSERT INTO verdict_cache (fingerprint, environment, commit_hex, verdict, recorded_at, hunt_id)
          VALUES (?, ?, ?, ?, ?, ?)
          ON CONFLICT (fingerprint, environment, commit_hex) DO UPDATE SET
            verdict = excluded.verdict, recorded_at = excluded.recorded_at, hunt_id = excluded.hunt_id
          """,
        arguments: [fingerprint, step.environment, commit, verdict.rawValue, step.endedAt, step.huntID])
    }
  }

  public func steps(huntID: Int64) throws(StoreError) -> [StepRow] {
    try read { db in
      try Row.fetchAll(db, sql: "SELECT * FROM steps WHERE hunt_id = ? ORDER BY number", arguments: [huntID])
        .map(Self.step(from:))
    }
  }

  public func cachedVerdicts(fingerprint: String, environment: String) throws(StoreError) -> [String: Verdict] {
    try read { db in
      var verdicts = [String: Verdict]()
      let rows = try Row.fetchCursor(
        db, sql: "SELECT commit_hex, verdict FROM verdict_cache WHERE fingerprint = ? AND environment = ?",
        arguments: [fingerprint, environment])
      while let row = try rows.next() {
        if let verdict = try Self.verdict(row["verdict"], in: "the verdict cache") {
          verdicts[row["commit_hex"]] = verdict
        }
      }
      return verdicts
    }
  }

  static func insertHunt(_ new: NewHunt, _ db: Database) throws -> HuntRecord {
    if let stored = try Row.fetchOne(
      db, sql: "SELECT * FROM hunts WHERE creation_token = ?", arguments: [new.creationToken])
    {
      return try hunt(from: stored)
    }
    try db.execute(
      sql: """
        INSERT INTO hunts (repository, bad, goods, paths, first_parent, environment, config_fingerprint,
          command_line, started_at, host, pool, creation_token)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
      arguments: [
        new.repositoryPath, new.bad.lowercased(), try encode(new.goods.map { $0.lowercased() }), try encode(new.paths),
        new.firstParent, new.environment, new.configFingerprint, new.commandLine, new.startedAt, new.host, new.pool,
        new.creationToken,
      ])
    let id = db.lastInsertedRowID
    guard let row = try Row.fetchOne(db, sql: "SELECT * FROM hunts WHERE id = ?", arguments: [id]) else {
      throw DatabaseError(resultCode: .SQLITE_INTERNAL, message: "the new hunt \(id) cannot be read back")
    }
    return try hunt(from: row)
  }

  static func hunt(from row: Row) throws -> HuntRecord {
    HuntRecord(
      id: row["id"], repositoryPath: row["repository"], bad: row["bad"], goods: try decode(row["goods"]),
      paths: try decode(row["paths"]), firstParent: row["first_parent"], environment: row["environment"],
      configFingerprint: row["config_fingerprint"], commandLine: row["command_line"], startedAt: row["started_at"],
      host: row["host"] ?? "", pool: row["pool"] ?? false, endedAt: row["ended_at"], outcome: row["outcome"])
  }

  static func step(from row: Row) throws -> StepRow {
    let purposeText: String = row["purpose"]
    guard let purpose = StepPurpose(rawValue: purposeText) else {
      throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "unknown step purpose '\(purposeText)'")
    }
    return StepRow(
      huntID: row["hunt_id"], number: row["number"], commit: row["commit_hex"], environment: row["environment"],
      purpose: purpose, verdict: try verdict(row["verdict"], in: "a step"), exitCode: row["exit_code"],
      deploySeconds: row["deploy_seconds"], testSeconds: row["test_seconds"], logPath: row["log_path"],
      startedAt: row["started_at"], endedAt: row["ended_at"], reused: row["reused"], note: row["note"],
      dependency: row["dependency"], dependencyRevision: row["dependency_revision"])
  }

  /// A stored verdict (nil stays nil); any other word is damage, named, never a default.
  static func verdict(_ text: String?, in place: String) throws -> Verdict? {
    guard let text else { return nil }
    guard let verdict = Verdict(rawValue: text) else {
      throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "unknown verdict '\(text)' in \(place)")
    }
    return verdict
  }

  /// Lists of commits and paths are stored as JSON arrays of strings.
  static func encode(_ list: [String]) throws -> String {
    String(decoding: try JSONEncoder().encode(list), as: UTF8.self)
  }

  static func decode(_ text: String) throws -> [String] {
    do {
      return try JSONDecoder().decode([String].self, from: Data(text.utf8))
    } catch {
      throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "a stored list is not a JSON array: \(text)")
    }
  }

  public func snapshot() throws(StoreError) -> StateSnapshot {
    try read { db in
      var snapshot = StateSnapshot()
      snapshot.hunts = try Row.fetchAll(db, sql: "SELECT * FROM hunts ORDER BY id").map(Self.hunt(from:))
      snapshot.steps = try Row.fetchAll(db, sql: "SELECT * FROM steps ORDER BY hunt_id, number").map(Self.step(from:))
      for row in try Row.fetchAll(db, sql: "SELECT * FROM verdict_cache ORDER BY fingerprint, environment, commit_hex")
      {
        guard let verdict = try Self.verdict(row["verdict"], in: "the verdict cache") else { continue }
        snapshot.cachedVerdicts.append(
          CachedVerdict(
            fingerprint: row["fingerprint"], environment: row["environment"], commit: row["commit_hex"],
            verdict: verdict, recordedAt: row["recorded_at"], huntID: row["hunt_id"]))
      }
      snapshot.nights = try Row.fetchAll(db, sql: "SELECT * FROM nights ORDER BY id").map(Self.night(from:))
      return snapshot
    }
  }
}
