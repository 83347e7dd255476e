import HuntStore

extension StateLocation {
  /// Opens the store this location names: the SQLite file (created when missing), or the
  /// PostgreSQL schema (created when missing). Both refuse a database that is not ours or is
  /// newer, and never reset one.
  ///
  /// - Parameter retryWindow: how long a PostgreSQL operation is tried again after its
  ///   connection failed (a hunt passes its lease's duration).
  public func open(retryWindow: Duration = .seconds(30)) async throws(StoreError) -> any StateStore {
    switch self {
    case .file(let path): return try SQLiteStore(path: path)
    case .postgres(let location): return try await PostgresStore.open(location, retryWindow: retryWindow)
    }
  }
}
