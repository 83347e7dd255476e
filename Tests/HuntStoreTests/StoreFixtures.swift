import Foundation
import History
import HuntStore
import HuntStorePostgres
import TestSupport
import Testing

/// The two stores every store test runs against.
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
  case sqlite
  case postgres

  var testDescription: String { rawValue }
}

/// A state file in a fresh temporary folder; the folder goes when the value is released.
final class StoreFolder: Sendable {
  let directory: TemporaryDirectory
  let path: String

  init() throws {
    directory = try TemporaryDirectory("huntstore")
    path = directory.url.appendingPathComponent("nested/state.sqlite").path
  }

  func open() throws -> SQLiteStore { try SQLiteStore(path: path) }
}

/// Fresh state of one backend: an SQLite file in a new folder, or a new schema of its own
/// in the tests' PostgreSQL server (scripts/test starts it). Opening it again reaches the
/// same state, as another process would.
final class TestState: Sendable {
  let backend: Backend
  let location: StateLocation
  let folder: StoreFolder
  /// The schema, with PostgreSQL.
  let schema: String

  init(_ backend: Backend) throws {
    self.backend = backend
    folder = try StoreFolder()
    schema = uniqueSchemaName()
    switch backend {
    case .sqlite: location = .file(folder.path)
    case .postgres: location = try StateLocation(parsing: try testPostgresURL(schema: schema))
    }
  }

  /// The `--state` text for this state.
  var text: String { location.description }

  /// Opens the state, as a process of its own would. (PostgreSQL stores are not closed by
  /// the tests: the test process ends, and the server drops idle connections.)
  func open() async throws -> any StateStore { try await location.open() }
}

/// A date with whole milliseconds, which the store keeps exactly.
func date(_ seconds: Int) -> Date { Date(timeIntervalSince1970: 1_700_000_000 + TimeInterval(seconds)) }

func sampleHunt(
  environment: String = "staging", fingerprint: String = "fp-1", bad: String = String(repeating: "b", count: 40),
  goods: [String] = [String(repeating: "a", count: 40)], paths: [String] = [], firstParent: Bool = false
) -> NewHunt {
  NewHunt(
    repositoryPath: "/srv/infra", bad: bad, goods: goods, paths: paths, firstParent: firstParent,
    environment: environment, configFingerprint: fingerprint, commandLine: "bisect-deploy hunt --env \(environment)",
    startedAt: date(0))
}

/// A commit id made from a number, 40 lowercase hexadecimal digits.
func commitHex(_ number: Int) -> String {
  let digits = String(number, radix: 16)
  return String(repeating: "0", count: 40 - digits.count) + digits
}

/// A step whose every field follows from its number, so a reader can check it.
func sampleStep(huntID: Int64, number: Int, environment: String = "staging") -> StepRow {
  let verdicts: [Verdict?] = [.good, .bad, .skip, nil]
  return StepRow(
    huntID: huntID, number: number, commit: commitHex(number), environment: environment,
    purpose: number == 1 ? .verifyBad : .bisect, verdict: verdicts[number % 4], exitCode: Int32(number % 200),
    deploySeconds: Double(number) / 4, testSeconds: Double(number) / 8, logPath: "/logs/step-\(number)",
    startedAt: date(number * 10), endedAt: date(number * 10 + 5), reused: number % 5 == 0,
    note: number % 4 == 3 ? "aborted \(number)" : nil)
}

/// Runs SQL on a file with Python's sqlite3: another program's SQLite, not our code.
func runPythonSQLite(_ path: String, _ sql: String) throws {
  let script =
    "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nc.executescript(sys.argv[2])\nc.commit()\nc.close()"
  let output = try runProcess("/usr/bin/env", ["python3", "-c", script, path, sql])
  guard output.status == 0 else { throw PythonError(message: output.stderr) }
}

/// Reads one value with Python's sqlite3.
func queryPythonSQLite(_ path: String, _ sql: String) throws -> String {
  let script =
    "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nprint(c.execute(sys.argv[2]).fetchone()[0])\nc.close()"
  let output = try runProcess("/usr/bin/env", ["python3", "-c", script, path, sql])
  guard output.status == 0 else { throw PythonError(message: output.stderr) }
  return output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Python's sqlite3 failed; `message` is what it printed.
struct PythonError: Error {
  var message: String
}
