import Foundation
import HuntStore
import Logging
import NIOSSL
import PostgresNIO

/// The state in a PostgreSQL database that a team's hosts share (postgres-nio): hunts, steps,
/// the verdict cache, nights, leases and the pools' queues, in one schema of their own
/// (`bisect_deploy` unless the URL says `?schema=`).
///
/// Every method runs in one transaction and returns after its `COMMIT` (which the server
/// makes durable before answering, with its default `synchronous_commit`). A lost connection
/// (a server restart, `pg_terminate_backend`, a network cut) is retried with a new one, for up
/// to `retryWindow`; the writes are made so that trying one again after a commit whose answer
/// was lost changes nothing (docs/state.md). Leases are decided by the server's clock.
///
/// `Sendable`: tasks share one store; it keeps two connections (one for the hunt's writes,
/// one for lease renewals, so that neither waits on the other).
public final class PostgresStore: StateStore {
  public let location: String
  let schema: String
  let host: String
  let port: Int
  let client: PostgresClient
  private let running: Task<Void, Never>
  /// How long an operation is tried again after its connection failed.
  let retryWindow: Duration
  /// How long one try may take before it counts as failed.
  let attemptTimeout: Duration
  static let logger = Logger(label: "bisect-deploy.state", factory: { _ in SwiftLogNoOpLogHandler() })

  /// The schema version this release writes (`meta.schema_version`).
  static let schemaVersion = 1
  static let application = "bisect-deploy"

  private init(location: PostgresLocation, retryWindow: Duration, attemptTimeout: Duration) {
    self.location = location.description
    schema = location.schema
    host = location.host
    port = location.port
    self.retryWindow = retryWindow
    self.attemptTimeout = attemptTimeout
    var configuration = PostgresClient.Configuration(
      host: location.host, port: location.port, username: location.user, password: location.password(),
      database: location.database, tls: Self.tls(location.tls))
    configuration.options.connectTimeout = .seconds(5)
    configuration.options.maximumConnections = 2
    // Shown in pg_stat_activity, so that a team's database administrator knows whose it is.
    configuration.options.additionalStartupParameters = [("application_name", "bisect-deploy")]
    let client = PostgresClient(configuration: configuration, backgroundLogger: Self.logger)
    self.client = client
    running = Task { await client.run() }
  }

  /// Connects, refuses a schema that is not ours or is newer, and creates or upgrades ours.
  ///
  /// - Throws: `.unreachable` when the server cannot be reached within `connectWindow` or
  ///   refuses the login; `.foreign` and `.newerSchema` as for a file.
  public static func open(
    _ location: PostgresLocation, retryWindow: Duration = .seconds(30), connectWindow: Duration = .seconds(10)
  ) async throws(StoreError) -> PostgresStore {
    let store = PostgresStore(location: location, retryWindow: retryWindow, attemptTimeout: .seconds(10))
    do {
      // One connection of its own first: the pool retries a refused login or an unreachable
      // server without saying why, and this is where the user needs to hear it.
      try await store.probe(location, within: connectWindow)
      try await store.prepareSchema(within: connectWindow)
    } catch {
      await store.close()
      throw error
    }
    return store
  }

  public func close() async {
    running.cancel()
    _ = await running.value
  }

  private static func tls(_ mode: PostgresLocation.TLSMode) -> PostgresClient.Configuration.TLS {
    guard let settings = tlsSettings(mode) else { return .disable }
    return mode == .prefer ? .prefer(settings) : .require(settings)
  }

  /// libpq's modes as TLS settings: none for `disable`; the certificate unchecked for
  /// `prefer` and `require`, checked against the system's roots for `verify-ca`, and its
  /// name too for `verify-full`.
  private static func tlsSettings(_ mode: PostgresLocation.TLSMode) -> TLSConfiguration? {
    var settings = TLSConfiguration.makeClientConfiguration()
    switch mode {
    case .disable: return nil
    case .prefer, .require: settings.certificateVerification = .none
    case .verifyCA: settings.certificateVerification = .noHostnameVerification
    case .verifyFull: settings.certificateVerification = .fullVerification
    }
    return settings
  }

  /// Connects once outside the pool, so that a refused login or an unreachable server is
  /// said in the server's words; tries again within `window` while the server cannot be
  /// reached (it may be starting).
  private func probe(_ location: PostgresLocation, within window: Duration) async throws(StoreError) {
    let tls: PostgresConnection.Configuration.TLS
    do {
      if let settings = Self.tlsSettings(location.tls) {
        let context = try NIOSSLContext(configuration: settings)
        tls = location.tls == .prefer ? .prefer(context) : .require(context)
      } else {
        tls = .disable
      }
    } catch {
      throw .unreachable(path: self.location, reason: "TLS cannot be set up: \(error)")
    }
    var configuration = PostgresConnection.Configuration(
      host: location.host, port: location.port, username: location.user, password: location.password(),
      database: location.database, tls: tls)
    configuration.options.connectTimeout = .seconds(5)
    configuration.options.additionalStartupParameters = [("application_name", "bisect-deploy")]
    let deadline = ContinuousClock.now + window
    while true {
      do {
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: Self.logger)
        try? await connection.close()
        return
      } catch {
        switch classify(error) {
        case .final(let failure): throw failure
        case .transient(let reason):
          guard ContinuousClock.now + .milliseconds(500) < deadline else {
            throw .unreachable(path: self.location, reason: reason)
          }
          try? await Task.sleep(for: .milliseconds(500))
        }
      }
    }
  }

  /// A table of our schema, quoted for SQL.
  func table(_ name: String) -> String { "\"\(schema)\".\(name)" }

  // MARK: Running statements

  /// Runs `body` in one transaction, trying again with a new connection when the connection
  /// fails (for up to `window`, default `retryWindow`). Errors `body` throws as `StoreError`
  /// are passed on as they are. Each try runs on a task of its own, so that cancelling the
  /// caller (Ctrl-C in a hunt) does not lose a write already on its way: the try finishes.
  ///
  /// `attempt`: how long one try may take before it is given up (default `attemptTimeout`);
  /// a long copy (`state migrate`) passes its own.
  func transaction<T: Sendable>(
    within window: Duration? = nil, attempt attemptLimit: Duration? = nil,
    _ body: @escaping @Sendable (PostgresConnection) async throws -> T
  ) async throws(StoreError) -> T {
    let deadline = ContinuousClock.now + (window ?? retryWindow)
    var pause = Duration.milliseconds(100)
    let client = client
    let timeout = attemptLimit ?? attemptTimeout
    while true {
      let attempt = Task { () async throws -> T in
        try await client.withTransaction(logger: Self.logger) { connection in try await body(connection) }
      }
      let timer = Task {
        try? await Task.sleep(for: timeout)
        attempt.cancel()
      }
      do {
        let value = try await attempt.value
        timer.cancel()
        return value
      } catch {
        timer.cancel()
        let failure = classify(error)
        guard case .transient(let reason) = failure else {
          if case .final(let storeError) = failure { throw storeError }
          throw .database(path: location, reason: "\(error)")
        }
        guard ContinuousClock.now + pause < deadline else { throw .unreachable(path: location, reason: reason) }
        // Not `Task.sleep` in this task: a cancelled caller would skip the pause.
        let wait = pause
        await Task { try? await Task.sleep(for: wait) }.value
        pause = min(pause * 2, .seconds(1))
      }
    }
  }

  /// Runs one statement in a transaction of its own.
  func execute(_ query: PostgresQuery, within window: Duration? = nil) async throws(StoreError) {
    try await transaction(within: window) { connection in _ = try await connection.query(query, logger: Self.logger) }
  }

  enum Failure {
    /// The connection failed or the server is not ready: try again.
    case transient(String)
    case final(StoreError)
  }

  /// Sorts what a try threw: what trying again may cure, and what it never will.
  func classify(_ error: any Error) -> Failure {
    if let error = error as? StoreError {
      // Rows read by static helpers name no location: this store's is theirs.
      switch error {
      case .damaged("", let reason): return .final(.damaged(path: location, reason: reason))
      case .database("", let reason): return .final(.database(path: location, reason: reason))
      default: return .final(error)
      }
    }
    if let error = error as? PostgresTransactionError {
      if let inner = error.closureError ?? error.beginError ?? error.commitError { return classify(inner) }
      return .transient("the transaction failed")
    }
    if error is CancellationError { return .transient("the server did not answer within \(attemptTimeout)") }
    guard let error = error as? PSQLError else {
      // The pool's own errors (no connection could be had in time) name no cause.
      return .transient("no connection to \(host):\(port) could be made")
    }
    switch error.code {
    case .server:
      let state = error.serverInfo?[.sqlState] ?? ""
      let message = error.serverInfo?[.message] ?? "a server error"
      // Connection exceptions, the server shutting down or starting, serialization failures,
      // deadlocks, too many connections: all pass.
      if state.hasPrefix("08") || ["57P01", "57P02", "57P03", "40001", "40P01", "53300"].contains(state) {
        return .transient("\(message) (SQLSTATE \(state))")
      }
      if state.hasPrefix("28") || state == "3D000" {
        return .final(.unreachable(path: location, reason: "\(message) (SQLSTATE \(state))"))
      }
      if state == "42501" {
        return .final(
          .database(
            path: location,
            reason: "\(message): the role needs the rights docs/fleet.md lists (SQLSTATE \(state))"))
      }
      return .final(.database(path: location, reason: "\(message) (SQLSTATE \(state))"))
    case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown:
      let detail = error.underlying.map { String(describing: $0) } ?? ""
      if detail.contains("Connection refused") || detail.contains("connectionRefused") {
        return .transient("nothing answers at \(host):\(port) (connection refused)")
      }
      if detail.contains("Timeout") || detail.contains("timeout") {
        return .transient("no answer from \(host):\(port) in time")
      }
      return .transient("the connection to \(host):\(port) failed")
    case .authMechanismRequiresPassword:
      return .final(
        .unreachable(path: location, reason: "the server asks for a password: set PGPASSWORD or add a ~/.pgpass line"))
    case .sslUnsupported:
      return .final(.unreachable(path: location, reason: "the server does not offer TLS, which sslmode asks for"))
    default:
      return .final(.database(path: location, reason: "\(error.code)"))
    }
  }

  // MARK: Schema

  /// What the checks before any write found.
  enum Inspection: Sendable {
    case fresh(schemaExists: Bool)
    case ours(version: Int)
    case foreign
    case newer
  }

  private func prepareSchema(within window: Duration) async throws(StoreError) {
    let schema = schema
    let meta = table("meta")
    let version = Self.schemaVersion
    let application = Self.application
    let inspection = try await transaction(within: window) { connection in
      // One process at a time creates or upgrades a schema; the others then find it done.
      try await connection.query(
        "SELECT pg_advisory_xact_lock(hashtext(\(application + ":" + schema)))", logger: Self.logger)
      let inspection = try await Self.inspect(connection, schema: schema, meta: meta)
      switch inspection {
      case .foreign, .newer:
        return inspection
      case .fresh(let exists):
        if !exists { try await connection.query("CREATE SCHEMA \(unescaped: "\"\(schema)\"")", logger: Self.logger) }
        for statement in PostgresSchema.version1(schema: schema) {
          try await connection.query(PostgresQuery(unsafeSQL: statement), logger: Self.logger)
        }
        try await connection.query(
          "INSERT INTO \(unescaped: meta) (key, value) VALUES ('application', \(application)), ('schema_version', \(String(version)))",
          logger: Self.logger)
        return inspection
      case .ours(let stored) where stored < version:
        // Later releases add their migrations here, each raising schema_version.
        return inspection
      case .ours:
        return inspection
      }
    }
    switch inspection {
    case .foreign: throw .foreign(path: location)
    case .newer: throw .newerSchema(path: location)
    case .fresh, .ours: return
    }
  }

  private static func inspect(_ connection: PostgresConnection, schema: String, meta: String) async throws
    -> Inspection
  {
    var exists = false
    for try await (count, ) in try await connection.query(
      "SELECT count(*) FROM pg_namespace WHERE nspname = \(schema)", logger: logger
    ).decode((Int64,).self) {
      exists = count > 0
    }
    guard exists else { return .fresh(schemaExists: false) }
    var tables = [String]()
    // pg_class, not information_schema (which lists only what this role may use): a schema
    // holding another program's tables that this role cannot read is not empty.
    for try await (name, ) in try await connection.query(
      """
      SELECT c.relname::text FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = \(schema) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
      """, logger: logger
    ).decode((String,).self) {
      tables.append(name)
    }
    if tables.isEmpty { return .fresh(schemaExists: true) }
    guard tables.contains("meta") else { return .foreign }
    var values = [String: String]()
    for try await (key, value) in try await connection.query(
      "SELECT key, value FROM \(unescaped: meta)", logger: logger
    ).decode((String, String).self) {
      values[key] = value
    }
    guard values["application"] == application, let version = values["schema_version"].flatMap(Int.init) else {
      return .foreign
    }
    return version > schemaVersion ? .newer : .ours(version: version)
  }
}
