import Foundation
import TestSupport
import Testing

/// The tests' second PostgreSQL cluster, which takes TCP connections over TLS only (a client
/// that gets in used TLS): `scripts/postgres.sh start-tls DIR` (scripts/test starts it) sets
/// BISECT_DEPLOY_TEST_POSTGRES_TLS (a URL without password), ..._TLS_CA (the CA that signed
/// its certificate, for 127.0.0.1 and localhost) and ..._TLS_PASSWORD.
struct TLSPostgres {
  let url: String
  let ca: URL
  let password: String

  /// Throws, saying how to get one, when it is not set: these tests never pass without it.
  static func fromEnvironment() throws -> TLSPostgres {
    let environment = ProcessInfo.processInfo.environment
    guard let url = environment["BISECT_DEPLOY_TEST_POSTGRES_TLS"], !url.isEmpty,
      let ca = environment["BISECT_DEPLOY_TEST_POSTGRES_TLS_CA"], !ca.isEmpty,
      let password = environment["BISECT_DEPLOY_TEST_POSTGRES_TLS_PASSWORD"]
    else {
      throw FixtureError(
        description:
          "BISECT_DEPLOY_TEST_POSTGRES_TLS is not set: run the tests with scripts/test, which starts a PostgreSQL cluster over TLS, or start one with scripts/postgres.sh start-tls DIR and source DIR/env"
      )
    }
    return TLSPostgres(url: url, ca: URL(fileURLWithPath: ca), password: password)
  }

  /// The state location: this server, `sslmode` and a schema of the test's own.
  func location(sslmode: String, schema: String, extra: String = "") -> String {
    "\(url)?sslmode=\(sslmode)&schema=\(schema)\(extra)"
  }

  /// A hunt of the revert bench's `pass` branch (its culprit is known) with its state at
  /// `state`, run as `wrap` says (directly, or with another trust store).
  func hunt(
    _ bench: RevertBench, state: String,
    wrap: (String, [String]) throws -> (executable: String, arguments: [String]) = { ($0, $1) }
  ) throws -> ProcessOutput {
    var environment = bench.environment
    environment["PGPASSWORD"] = password
    let command = try wrap(
      bisectDeployExecutable.path,
      [
        "--repo", bench.repo.path, "--good", "v0", "--bad", "pass", "--deploy", RevertBench.deploy, "--test",
        RevertBench.test, "--state", state,
      ])
    return try runProcess(command.executable, command.arguments, environment: environment)
  }

  /// A folder to stand for /etc/ssl/certs: the server's CA alone, as `ca-certificates.crt`.
  func trustStore(in directory: URL) throws -> URL {
    let store = directory.appendingPathComponent("server-ca")
    try FileManager.default.createDirectory(at: store, withIntermediateDirectories: true)
    try FileManager.default.copyItem(at: ca, to: store.appendingPathComponent("ca-certificates.crt"))
    return store
  }

  /// SQL run by psql (libpq and OpenSSL: another program's client), verifying the server's
  /// certificate against the CA file and its name.
  func psql(_ sql: String) throws -> String {
    var environment = ProcessInfo.processInfo.environment
    environment["PGPASSWORD"] = password
    let output = try runProcess(
      "/usr/bin/env",
      [
        "psql", "\(url)?sslmode=verify-full&sslrootcert=\(ca.path)", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
        "-c", sql,
      ], environment: environment)
    guard output.status == 0 else { throw FixtureError(description: "psql failed: \(output.stderr)") }
    return output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
  }
}

/// The state on PostgreSQL over TLS with `sslmode=verify-full`, against a server whose
/// certificate a CA of the tests signed.
///
/// bisect-deploy verifies the certificate against the system's roots only
/// (PostgresStore.tlsSettings: `TLSConfiguration.makeClientConfiguration()`, whose roots on
/// Linux are /etc/ssl/certs), and a state URL knows `sslmode` and `schema` only: `sslrootcert`
/// is refused as an unknown parameter (exit 64). So the tests that run today give the test's
/// CA to bisect-deploy as its whole /etc/ssl/certs, in a private mount namespace
/// (`PrivateTrustStore`); the tests of `sslrootcert` wait for issue 34, disabled.
@Suite(.serialized) struct PostgresTLSTests {
  static let needsTrustStore =
    "needs a private mount namespace (unshare --mount, as root or with user namespaces) to trust the test's CA: a state URL takes no CA yet (issue 34)"

  @Test(
    "sslmode=verify-full, the server's CA trusted: a hunt keeps its state over TLS and names the culprit",
    .enabled(if: PrivateTrustStore.isAvailable, Comment(rawValue: needsTrustStore)))
  func verifyFullWithTheRightCA() throws {
    let server = try TLSPostgres.fromEnvironment()
    let bench = try RevertBench()
    let store = try server.trustStore(in: bench.directory.url)
    let output = try server.hunt(
      bench, state: server.location(sslmode: "verify-full", schema: uniqueSchemaName()),
      wrap: { try PrivateTrustStore.command(trusting: store, $0, $1) })
    #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
    #expect(output.stdout.contains("The first bad commit is \(bench.culprit)"), "\(output.stdout)")
  }

  @Test(
    "sslmode=verify-full, the server's CA trusted: the hunt's row is on the TLS server, as psql (verify-full, the CA file) reads it",
    .enabled(if: PrivateTrustStore.isAvailable, Comment(rawValue: needsTrustStore)))
  func stateIsOnTheTLSServer() throws {
    let server = try TLSPostgres.fromEnvironment()
    let bench = try RevertBench()
    let schema = uniqueSchemaName()
    let store = try server.trustStore(in: bench.directory.url)
    let output = try server.hunt(
      bench, state: server.location(sslmode: "verify-full", schema: schema),
      wrap: { try PrivateTrustStore.command(trusting: store, $0, $1) })
    try #require(output.status == 0, "\(output.stdout)\(output.stderr)")
    let pass = try bench.rev("pass")
    #expect(try server.psql("SELECT bad, outcome FROM \"\(schema)\".hunts") == "\(pass)|culprit \(bench.culprit)")
  }

  @Test(
    "sslmode=verify-full with another CA trusted than the server's: refused, exit 74",
    .enabled(if: PrivateTrustStore.isAvailable, Comment(rawValue: needsTrustStore)))
  func verifyFullWithAWrongCA() throws {
    let server = try TLSPostgres.fromEnvironment()
    let bench = try RevertBench()
    let wrong = try TestCertificateAuthority(in: bench.directory.url, name: "wrong")
    let output = try server.hunt(
      bench, state: server.location(sslmode: "verify-full", schema: uniqueSchemaName()),
      wrap: { try PrivateTrustStore.command(trusting: try wrong.trustStore(), $0, $1) })
    #expect(output.status == 74, "\(output.stdout)\(output.stderr)")
  }

  @Test(
    "sslmode=verify-full with another CA trusted than the server's: the refusal names the certificate",
    .enabled(if: PrivateTrustStore.isAvailable, Comment(rawValue: needsTrustStore)))
  func wrongCAIsNamed() throws {
    let server = try TLSPostgres.fromEnvironment()
    let bench = try RevertBench()
    let wrong = try TestCertificateAuthority(in: bench.directory.url, name: "wrong")
    let output = try server.hunt(
      bench, state: server.location(sslmode: "verify-full", schema: uniqueSchemaName()),
      wrap: { try PrivateTrustStore.command(trusting: try wrong.trustStore(), $0, $1) })
    try #require(output.status == 74, "\(output.stdout)\(output.stderr)")
    withKnownIssue(
      """
      PostgresStore.classify (Sources/HuntStorePostgres/PostgresStore.swift) takes a failed TLS handshake \
      (NIOSSL CERTIFICATE_VERIFY_FAILED under PSQLError.connectionError) for a transient connection failure: \
      it is retried for the 10 s connect window, then reported as 'the connection to HOST:PORT failed. Check \
      that the server runs and accepts this user', without the certificate
      """
    ) {
      #expect(output.stderr.lowercased().contains("certificate"), "\(output.stderr)")
    }
  }

  @Test(
    "sslmode=verify-full&sslrootcert=CA: a hunt trusts the CA file given and names the culprit",
    .disabled(
      "sslrootcert is not a parameter of a state URL yet: StateLocation.swift knows sslmode and schema only (exit 64, unknown parameter), and PostgresStore.tlsSettings trusts the system's roots only; issue 34 adds CA bundles"
    ))
  func sslrootcertTrusted() throws {
    let server = try TLSPostgres.fromEnvironment()
    let bench = try RevertBench()
    let output = try server.hunt(
      bench,
      state: server.location(
        sslmode: "verify-full", schema: uniqueSchemaName(), extra: "&sslrootcert=\(server.ca.path)"))
    #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
    #expect(output.stdout.contains("The first bad commit is \(bench.culprit)"), "\(output.stdout)")
  }

  @Test(
    "sslmode=verify-full&sslrootcert=another CA: refused, exit 74, the message naming the certificate",
    .disabled(
      "sslrootcert is not a parameter of a state URL yet (StateLocation.swift: sslmode and schema only); issue 34 adds CA bundles"
    ))
  func sslrootcertWrong() throws {
    let server = try TLSPostgres.fromEnvironment()
    let bench = try RevertBench()
    let wrong = try TestCertificateAuthority(in: bench.directory.url, name: "wrong")
    let output = try server.hunt(
      bench,
      state: server.location(
        sslmode: "verify-full", schema: uniqueSchemaName(), extra: "&sslrootcert=\(wrong.certificate.path)"))
    #expect(output.status == 74, "\(output.stdout)\(output.stderr)")
    #expect(output.stderr.lowercased().contains("certificate"), "\(output.stderr)")
  }
}
