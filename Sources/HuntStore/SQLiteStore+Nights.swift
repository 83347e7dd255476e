import Foundation
import GRDB
import History

/// One nightly run: the tip of a branch deployed and tested on an environment.
public struct NightRecord: Sendable, Hashable {
  public var id: Int64
  public var branch: String
  public var environment: String
  public var configFingerprint: String
  /// The tip that was tested, 40 hexadecimal digits.
  public var commit: String
  public var verdict: Verdict
  public var testedAt: Date
  /// The hunt the night started when its tip was bad, if any.
  public var huntID: Int64?

  public init(
    id: Int64, branch: String, environment: String, configFingerprint: String, commit: String, verdict: Verdict,
    testedAt: Date, huntID: Int64?
  ) {
    self.id = id
    self.branch = branch
    self.environment = environment
    self.configFingerprint = configFingerprint
    self.commit = commit
    self.verdict = verdict
    self.testedAt = testedAt
    self.huntID = huntID
  }
}

extension SQLiteStore {
  public func recordNight(
    branch: String, environment: String, fingerprint: String, commit: String, verdict: Verdict, testedAt: Date
  ) throws(StoreError) -> NightRecord {
    try write { db in
      try db.execute(
        sql: """
          INSERT OR IGNORE INTO nights (branch, environment, config_fingerprint, commit_hex, verdict, tested_at)
          VALUES (?, ?, ?, ?, ?, ?)
          """, arguments: [branch, environment, fingerprint, commit, verdict.rawValue, testedAt])
      return try Self.night(db, branch: branch, environment: environment, fingerprint: fingerprint, commit: commit)!
    }
  }

  public func attachHunt(_ huntID: Int64, toNight id: Int64) throws(StoreError) {
    try write { db in
      try db.execute(sql: "UPDATE nights SET hunt_id = ? WHERE id = ?", arguments: [huntID, id])
    }
  }

  public func night(branch: String, environment: String, fingerprint: String, commit: String) throws(StoreError)
    -> NightRecord?
  {
    try read { db in
      try Self.night(db, branch: branch, environment: environment, fingerprint: fingerprint, commit: commit)
    }
  }

  public func lastGoodNight(branch: String, environment: String, fingerprint: String) throws(StoreError) -> NightRecord?
  {
    try read { db in
      try Row.fetchOne(
        db,
        sql: """
          SELECT * FROM nights WHERE branch = ? AND environment = ? AND config_fingerprint = ? AND verdict = 'good'
          ORDER BY tested_at DESC, id DESC LIMIT 1
          """, arguments: [branch, environment, fingerprint]
      ).map(Self.night(from:))
    }
  }

  public func latestNight(branch: String, environment: String, fingerprint: String) throws(StoreError) -> NightRecord? {
    try read { db in
      try Row.fetchOne(
        db,
        sql: """
          SELECT * FROM nights WHERE branch = ? AND environment = ? AND config_fingerprint = ?
          ORDER BY tested_at DESC, id DESC LIMIT 1
          """, arguments: [branch, environment, fingerprint]
      ).map(Self.night(from:))
    }
  }

  static func night(_ db: Database, branch: String, environment: String, fingerprint: String, commit: String) throws
    -> NightRecord?
  {
    try Row.fetchOne(
      db,
      sql: "SELECT * FROM nights WHERE branch = ? AND environment = ? AND config_fingerprint = ? AND commit_hex = ?",
      arguments: [branch, environment, fingerprint, commit]
    ).map(night(from:))
  }

  static func night(from row: Row) throws -> NightRecord {
    guard let verdict = try verdict(row["verdict"], in: "a night") else {
      throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "a night without a verdict")
    }
    return NightRecord(
      id: row["id"], branch: row["branch"], environment: row["environment"],
      configFingerprint: row["config_fingerprint"], commit: row["commit_hex"], verdict: verdict,
      testedAt: row["tested_at"], huntID: row["hunt_id"])
  }
}
