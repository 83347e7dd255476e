import ArgumentParser
import Foundation
import HuntStore
import HuntStorePostgres

/// `bisect-deploy state …`: the state itself.
struct StateCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "state", abstract: "Work on the state itself (see docs/fleet.md).",
    subcommands: [StateMigrateCommand.self])
}

/// `bisect-deploy state migrate --from PATH --to postgres://…`: copies a clone's SQLite history
/// into a team's PostgreSQL database.
struct StateMigrateCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "migrate",
    abstract: "Copy the hunts, steps, cached verdicts and nights of an SQLite state file into PostgreSQL.",
    discussion: """
      The file is only read, never changed or removed. Hunts get the database's next numbers; \
      copying the same file again adds nothing. Refused while a hunt of the file runs (exit 75).
      """)

  @Option(help: "The SQLite state file (for example .git/bisect-deploy/state.sqlite).") var from: String
  @Option(help: "The PostgreSQL database: postgres://USER@HOST:PORT/DATABASE (password from PGPASSWORD or ~/.pgpass).")
  var to: String

  func validate() throws {
    guard case .postgres = try stateLocation(flag: to, configuration: nil) else {
      throw ValidationError("--to '\(to)': give a postgres:// URL; the file to copy goes in --from.")
    }
    guard FileManager.default.fileExists(atPath: from) else {
      throw ValidationError("--from '\(from)': no such file. Give the state file to copy.")
    }
  }

  func run() async throws {
    guard case .postgres(let target) = try stateLocation(flag: to, configuration: nil) else { return }
    let source = try SQLiteStore(path: from)
    let running = try source.activeHunts()
    if let hunt = running.sorted().first {
      throw CommandFailure(
        message:
          "Hunt #\(hunt) of '\(from)' is running now: migrate when it has ended (or stop it; it resumes from PostgreSQL afterwards).",
        status: .locked)
    }
    let snapshot = try source.snapshot()
    let store = try await PostgresStore.open(target)
    let added: Int
    do {
      // The same file copied again finds its hunts by these marks and adds nothing.
      added = try await store.importSnapshot(snapshot) { hunt in
        "migrated:\(hunt.id):\(Int64((hunt.startedAt.timeIntervalSince1970 * 1000).rounded())):\(hunt.bad)"
      }
    } catch {
      await store.close()
      throw error
    }
    await store.close()
    let held =
      "(the file holds \(snapshot.steps.count) steps, \(snapshot.cachedVerdicts.count) cached verdicts, \(snapshot.nights.count) nights)"
    print(
      (added == 0
        ? "Copied nothing: all \(snapshot.hunts.count) hunts of \(from) were in \(target) already \(held)"
        : "Copied \(added) of \(snapshot.hunts.count) hunts from \(from) to \(target) \(held)"
          + (added < snapshot.hunts.count ? "; \(snapshot.hunts.count - added) were there already" : ""))
        + ". The file is unchanged: point --state (or BISECT_DEPLOY_STATE) at the database to use it.")
  }
}
