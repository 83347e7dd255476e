import Foundation
import History

/// Why the state database cannot be opened or written. Every case names the file (or the
/// PostgreSQL URL: `path` is the store's `location`), and the messages say what to do; the
/// store never deletes or resets a database to get past one.
public enum StoreError: Error, LocalizedError, Equatable, Sendable {
  /// The file is not an SQLite database, or SQLite found it corrupt (`PRAGMA quick_check`).
  case damaged(path: String, reason: String)
  /// The file is an SQLite database of another program: another `application_id`, or tables
  /// that are not ours.
  case foreign(path: String)
  /// The database was written by a newer bisect-deploy whose schema this one does not know.
  case newerSchema(path: String)
  /// The file or its folder cannot be created, opened or read (permissions, a directory in
  /// the way).
  case cannotOpen(path: String, reason: String)
  /// Another hunt holds the environment's lease, and it has not run out.
  case locked(environment: String, holder: LeaseHolder)
  /// The PostgreSQL server cannot be reached, or refused the login (the reason says which).
  case unreachable(path: String, reason: String)
  /// The `--state` value (or `state:`, `BISECT_DEPLOY_STATE`) cannot be used as given.
  case badLocation(String, reason: String)
  /// No hunt has this id in the database.
  case unknownHunt(id: Int64, path: String)
  /// A step with this number was already recorded for the hunt.
  case duplicateStep(huntID: Int64, number: Int, path: String)
  /// SQLite failed while reading or writing (disk full, I/O error, a lock held too long).
  case database(path: String, reason: String)

  public var errorDescription: String? {
    switch self {
    case .damaged(let path, let reason):
      "The state database '\(path)' is damaged (\(reason)). Move it aside or pass --state PATH; nothing was deleted."
    case .foreign(let path):
      "The file '\(path)' is an SQLite database of another program, not bisect-deploy state. "
        + "Pass --state PATH to use another file; nothing was changed."
    case .newerSchema(let path):
      "The state database '\(path)' was written by a newer bisect-deploy. "
        + "Use that version, or pass --state PATH to start a separate file; nothing was changed."
    case .cannotOpen(let path, let reason):
      "Cannot open the state database '\(path)': \(reason). Check the folder's permissions or pass --state PATH."
    case .locked(let environment, let holder) where isHuntLease(environment):
      "Hunt \(environment) runs now: it is held by pid \(holder.pid) on \(holder.host.terminalSafe()) (since "
        + "\(holder.acquiredAt.formatted(.iso8601)), lease until \(holder.expiresAt.formatted(.iso8601))). "
        + "Wait for it to end, or stop it; if its process is gone, its lease runs out by itself."
    case .locked(let environment, let holder):
      "The environment '\(environment)' is leased by \(holder.description). Wait for that hunt to end "
        + "(--wait-for-env DURATION waits for it), or stop it; a lease whose holder stops renewing it is "
        + "taken over when it runs out, and one of a dead process on this host at once."
    case .unreachable(let path, let reason):
      "Cannot reach the state database '\(path)': \(reason). Check that the server runs and accepts this user "
        + "(the password comes from PGPASSWORD or ~/.pgpass), or pass --state PATH for a local file."
    case .badLocation(let given, let reason):
      "The state location '\(given)' cannot be used: \(reason)."
    case .unknownHunt(let id, let path):
      "No hunt \(id) in the state database '\(path)'."
    case .duplicateStep(let huntID, let number, let path):
      "Step \(number) of hunt \(huntID) is already recorded in '\(path)'."
    case .database(let path, let reason):
      "The state database '\(path)' failed: \(reason)."
    }
  }
}
