import GRDB

/// The database's schema and its migrations. See docs/state.md.
enum Schema {
  /// Written to `PRAGMA application_id` (ASCII "BDPY") so that our files are recognised and
  /// other programs' databases are refused.
  static let applicationID: Int32 = 0x4244_5059

  /// The `user_version` the newest migration sets. A file with a larger one was written by a
  /// newer release.
  static let version = 6

  /// GRDB's bookkeeping table; present (empty) in a file whose first migration never committed.
  static let migrationsTable = "grdb_migrations"

  static var migrator: DatabaseMigrator {
    var migrator = DatabaseMigrator()
    migrator.registerMigration("v1") { db in
      try db.execute(
        sql: """
          CREATE TABLE hunts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            repository TEXT NOT NULL,
            bad TEXT NOT NULL,
            goods TEXT NOT NULL,
            paths TEXT NOT NULL,
            first_parent BOOLEAN NOT NULL,
            environment TEXT NOT NULL,
            config_fingerprint TEXT NOT NULL,
            command_line TEXT NOT NULL,
            started_at DATETIME NOT NULL,
            ended_at DATETIME,
            outcome TEXT
          );
          CREATE INDEX hunts_by_environment ON hunts(environment, outcome);
          CREATE TABLE steps (
            hunt_id INTEGER NOT NULL REFERENCES hunts(id),
            number INTEGER NOT NULL,
            commit_hex TEXT NOT NULL,
            environment TEXT NOT NULL,
            purpose TEXT NOT NULL CHECK (purpose IN ('verify-bad', 'verify-good', 'bisect', 'manual')),
            verdict TEXT CHECK (verdict IN ('good', 'bad', 'skip')),
            exit_code INTEGER,
            deploy_seconds REAL,
            test_seconds REAL,
            log_path TEXT,
            started_at DATETIME NOT NULL,
            ended_at DATETIME NOT NULL,
            reused BOOLEAN NOT NULL,
            note TEXT,
            PRIMARY KEY (hunt_id, number)
          );
          CREATE TABLE verdict_cache (
            fingerprint TEXT NOT NULL,
            environment TEXT NOT NULL,
            commit_hex TEXT NOT NULL,
            verdict TEXT NOT NULL CHECK (verdict IN ('good', 'bad')),
            recorded_at DATETIME NOT NULL,
            hunt_id INTEGER REFERENCES hunts(id),
            PRIMARY KEY (fingerprint, environment, commit_hex)
          );
          CREATE TABLE locks (
            environment TEXT PRIMARY KEY,
            hunt_id INTEGER NOT NULL REFERENCES hunts(id),
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            started_at DATETIME NOT NULL
          );
          PRAGMA application_id = \(applicationID);
          PRAGMA user_version = 1;
          """)
    }
    // v2: nightly runs, one row per (branch, environment, fingerprint, tip) tested.
    migrator.registerMigration("v2-nights") { db in
      try db.execute(
        sql: """
          CREATE TABLE nights (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            branch TEXT NOT NULL,
            environment TEXT NOT NULL,
            config_fingerprint TEXT NOT NULL,
            commit_hex TEXT NOT NULL,
            verdict TEXT NOT NULL CHECK (verdict IN ('good', 'bad', 'skip')),
            tested_at DATETIME NOT NULL,
            hunt_id INTEGER REFERENCES hunts(id),
            UNIQUE (branch, environment, config_fingerprint, commit_hex)
          );
          PRAGMA user_version = 2;
          """)
    }
    // v3: steps may be `descend` (inside a blamed merge) or `confirm` (the culprit tested
    // again). SQLite cannot change a CHECK constraint, so the table is rebuilt, rows kept.
    migrator.registerMigration("v3-step-purposes") { db in
      try db.execute(
        sql: """
          CREATE TABLE steps_v3 (
            hunt_id INTEGER NOT NULL REFERENCES hunts(id),
            number INTEGER NOT NULL,
            commit_hex TEXT NOT NULL,
            environment TEXT NOT NULL,
            purpose TEXT NOT NULL
              CHECK (purpose IN ('verify-bad', 'verify-good', 'bisect', 'manual', 'descend', 'confirm')),
            verdict TEXT CHECK (verdict IN ('good', 'bad', 'skip')),
            exit_code INTEGER,
            deploy_seconds REAL,
            test_seconds REAL,
            log_path TEXT,
            started_at DATETIME NOT NULL,
            ended_at DATETIME NOT NULL,
            reused BOOLEAN NOT NULL,
            note TEXT,
            PRIMARY KEY (hunt_id, number)
          );
          INSERT INTO steps_v3 SELECT hunt_id, number, commit_hex, environment, purpose, verdict, exit_code,
            deploy_seconds, test_seconds, log_path, started_at, ended_at, reused, note FROM steps;
          DROP TABLE steps;
          ALTER TABLE steps_v3 RENAME TO steps;
          PRAGMA user_version = 3;
          """)
    }
    // v4: leases instead of pid-checked locks (an expiry renewed by the running hunt, a token
    // per process), the pools' queues, and the host that started each hunt. A lock of the old
    // form becomes a lease running out one minute after the upgrade: its holder, an older
    // release, cannot renew it, and its unknown process is never taken for gone.
    migrator.registerMigration("v4-leases") { db in
      try db.execute(
        sql: """
          CREATE TABLE leases (
            environment TEXT PRIMARY KEY,
            hunt_id INTEGER NOT NULL REFERENCES hunts(id),
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            process TEXT NOT NULL,
            token TEXT NOT NULL,
            acquired_at DATETIME NOT NULL,
            renewed_at DATETIME NOT NULL,
            expires_at DATETIME NOT NULL
          );
          CREATE INDEX leases_by_hunt ON leases(hunt_id);
          INSERT INTO leases SELECT environment, hunt_id, host, pid, '', 'lock-of-an-older-release', started_at,
            started_at, strftime('%Y-%m-%d %H:%M:%f', 'now', '+60 seconds') FROM locks;
          DROP TABLE locks;
          CREATE TABLE pool_queue (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            pool TEXT NOT NULL,
            hunt_id INTEGER NOT NULL REFERENCES hunts(id),
            token TEXT NOT NULL,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            process TEXT NOT NULL,
            wants INTEGER NOT NULL,
            enqueued_at DATETIME NOT NULL,
            expires_at DATETIME NOT NULL,
            UNIQUE (pool, token)
          );
          ALTER TABLE hunts ADD COLUMN host TEXT NOT NULL DEFAULT '';
          ALTER TABLE hunts ADD COLUMN pool BOOLEAN NOT NULL DEFAULT 0;
          ALTER TABLE hunts ADD COLUMN creation_token TEXT;
          CREATE UNIQUE INDEX hunts_by_creation_token ON hunts(creation_token);
          PRAGMA user_version = 4;
          """)
    }
    // v5: steps may be `dependency` or `dependency-check` (`--descend-deps`: the culprit's
    // tree with a dependency's pin rewritten), and name the dependency and the revision
    // written. The table is rebuilt as in v3, rows kept.
    migrator.registerMigration("v5-dependencies") { db in
      try db.execute(
        sql: """
          CREATE TABLE steps_v5 (
            hunt_id INTEGER NOT NULL REFERENCES hunts(id),
            number INTEGER NOT NULL,
            commit_hex TEXT NOT NULL,
            environment TEXT NOT NULL,
            purpose TEXT NOT NULL
              CHECK (purpose IN ('verify-bad', 'verify-good', 'bisect', 'manual', 'descend', 'confirm',
                'dependency-check', 'dependency')),
            verdict TEXT CHECK (verdict IN ('good', 'bad', 'skip')),
            exit_code INTEGER,
            deploy_seconds REAL,
            test_seconds REAL,
            log_path TEXT,
            started_at DATETIME NOT NULL,
            ended_at DATETIME NOT NULL,
            reused BOOLEAN NOT NULL,
            note TEXT,
            dependency TEXT,
            dependency_revision TEXT,
            PRIMARY KEY (hunt_id, number)
          );
          INSERT INTO steps_v5 (hunt_id, number, commit_hex, environment, purpose, verdict, exit_code,
            deploy_seconds, test_seconds, log_path, started_at, ended_at, reused, note)
            SELECT hunt_id, number, commit_hex, environment, purpose, verdict, exit_code, deploy_seconds,
              test_seconds, log_path, started_at, ended_at, reused, note FROM steps;
          DROP TABLE steps;
          ALTER TABLE steps_v5 RENAME TO steps;
          PRAGMA user_version = 5;
          """)
    }
    // v6: steps may be `revert` (bad with the culprit reverted, `--confirm-revert`). Rebuilt
    // as in v3, rows and the dependency columns kept.
    migrator.registerMigration("v6-revert") { db in
      try db.execute(
        sql: """
          CREATE TABLE steps_v6 (
            hunt_id INTEGER NOT NULL REFERENCES hunts(id),
            number INTEGER NOT NULL,
            commit_hex TEXT NOT NULL,
            environment TEXT NOT NULL,
            purpose TEXT NOT NULL
              CHECK (purpose IN ('verify-bad', 'verify-good', 'bisect', 'manual', 'descend', 'confirm',
                'dependency-check', 'dependency', 'revert')),
            verdict TEXT CHECK (verdict IN ('good', 'bad', 'skip')),
            exit_code INTEGER,
            deploy_seconds REAL,
            test_seconds REAL,
            log_path TEXT,
            started_at DATETIME NOT NULL,
            ended_at DATETIME NOT NULL,
            reused BOOLEAN NOT NULL,
            note TEXT,
            dependency TEXT,
            dependency_revision TEXT,
            PRIMARY KEY (hunt_id, number)
          );
          INSERT INTO steps_v6 SELECT hunt_id, number, commit_hex, environment, purpose, verdict, exit_code,
            deploy_seconds, test_seconds, log_path, started_at, ended_at, reused, note, dependency,
            dependency_revision FROM steps;
          DROP TABLE steps;
          ALTER TABLE steps_v6 RENAME TO steps;
          PRAGMA user_version = 6;
          """)
    }
    return migrator
  }
}
