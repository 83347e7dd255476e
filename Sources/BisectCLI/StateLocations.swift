import Foundation
import GitKit
import HuntKit
import HuntStore
import HuntStorePostgres

/// Where the state is, by precedence: `--state`, then `BISECT_DEPLOY_STATE` (a CI runner's
/// or a CronJob's setting), then `state:` in the configuration file, else nil (the file in the
/// repository's git directory). Checked before anything is opened.
func stateLocation(flag: String?, configuration: Configuration?) throws -> StateLocation? {
  let environment = ProcessInfo.processInfo.environment["BISECT_DEPLOY_STATE"].flatMap { $0.isEmpty ? nil : $0 }
  guard let text = flag ?? environment ?? configuration?.state else { return nil }
  do {
    return try StateLocation(parsing: text)
  } catch {
    let source =
      flag != nil ? "--state" : environment != nil ? "BISECT_DEPLOY_STATE" : "state: in the configuration file"
    throw CommandFailure(message: "\(source): \(error.errorDescription ?? "\(error)")", status: .usage)
  }
}

/// The state location in force, or the default file in `repository`'s git directory.
func stateLocation(_ location: StateLocation?, in repository: Repository) -> StateLocation {
  location ?? .file(SQLiteStore.defaultPath(gitDirectory: repository.gitDirectory))
}

/// Opens either kind of state: the executable knows PostgreSQL (HuntKit knows the protocol).
let openStateStore: StoreOpener = { location, retryWindow throws(StoreError) in
  try await location.open(retryWindow: retryWindow)
}

/// Runs `body` with the store open, and closes it whatever happens.
func withStateStore<T>(_ location: StateLocation, _ body: (any StateStore) async throws -> T) async throws -> T {
  let store = try await location.open()
  do {
    let value = try await body(store)
    await store.close()
    return value
  } catch {
    await store.close()
    throw error
  }
}
