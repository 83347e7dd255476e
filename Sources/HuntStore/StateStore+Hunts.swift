import Foundation
import GRDB
import History

extension StateStore {
  /// Stores a new hunt and returns it with its id. Takes no lock: see `createLockedHunt`.
  public func createHunt(_ new: NewHunt) throws(StoreError) -> HuntRecord {
    try write { db in try Self.insertHunt(new, db) }
  }

  /// Marks a hunt as ended. An unfinished hunt (nil outcome) is what `resume` continues.
  public func finishHunt(id: Int64, outcome: String, endedAt: Date = Date()) throws(StoreError) {
    try write { db in
      try db.execute(
        sql: "UPDATE hunts SET outcome = ?, ended_at = ? WHERE id = ?", arguments: [outcome, endedAt, id])
      if db.changesCount == 0 { throw StoreError.unknownHunt(id: id, path: path) }
    }
  }

  /// The newest hunt on `environment` that has no outcome yet: the one to resume.
  public func unfinishedHunt(environment: String) throws(StoreError) -> HuntRecord? {
    try read { db in
      try Row.fetchOne(
        db, sql: "SELECT * FROM hunts WHERE environment = ? AND outcome IS NULL ORDER BY id DESC LIMIT 1",
        arguments: [environment]
      ).map(Self.hunt(from:))
    }
  }

  /// The hunt with this id, or nil.
  public func hunt(id: Int64) throws(StoreError) -> HuntRecord? {
    try read { db in
      try Row.fetchOne(db, sql: "SELECT * FROM hunts WHERE id = ?", arguments: [id]).map(Self.hunt(from:))
    }
  }

  /// The newest `limit` hunts, newest first.
  public func hunts(limit: Int = 20) throws(StoreError) -> [HuntRecord] {
    try read { db in
      try Row.fetchAll(db, sql: "SELECT * FROM hunts ORDER BY id DESC LIMIT ?", arguments: [limit])
        .map(Self.hunt(from:))
    }
  }

  /// Records a finished step in one transaction and returns after the commit, so the
  /// verdict survives anything that happens next. A good or bad verdict that was tested (not
  /// `reused`) also goes into the verdict cache, under the hunt's fingerprint and the step's
  /// environment, replacing an older verdict for that commit; a dependency step's does not
  /// (it judged the culprit's tree with a pin rewritten, not a commit of the repository).
  public func recordStep(_ step: StepRow) throws(StoreError) {
    try write { db in
      guard
        let fingerprint = try String.fetchOne(
          db, sql: "SELECT config_fingerprint FROM hunts WHERE id = ?", arguments: [step.huntID])
      else { throw StoreError.unknownHunt(id: step.huntID, path: path) }
      let taken = try Bool.fetchOne(
        db, sql: "SELECT 1 FROM steps WHERE hunt_id = ? AND number = ?", arguments: [step.huntID, step.number])
      if taken == true { throw StoreError.duplicateStep(huntID: step.huntID, number: step.number, path: path) }
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

  /// The steps of a hunt in the order they were numbered.
  public func steps(huntID: Int64) throws(StoreError) -> [StepRow] {
    try read { db in
      try Row.fetchAll(db, sql: "SELECT * FROM steps WHERE hunt_id = ? ORDER BY number", arguments: [huntID])
        .map(Self.step(from:))
    }
  }

  /// Verdicts earlier hunts found with the same fingerprint on the same environment, by
  /// commit (40 lowercase hexadecimal digits). Only tested good and bad verdicts are cached.
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
    try db.execute(
      sql: """
        INSERT INTO hunts (repository, bad, goods, paths, first_parent, environment, config_fingerprint,
          command_line, started_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
      arguments: [
        new.repositoryPath, new.bad.lowercased(), try encode(new.goods.map { $0.lowercased() }), try encode(new.paths),
        new.firstParent, new.environment, new.configFingerprint, new.commandLine, new.startedAt,
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
      endedAt: row["ended_at"], outcome: row["outcome"])
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
}
