import Foundation

/// What a child process printed and how it ended.
public struct ProcessOutput: Sendable {
  public var status: Int32
  public var stdout: String
  public var stderr: String
}

/// A failure while preparing a test fixture, with the command that failed.
public struct FixtureError: Error, CustomStringConvertible {
  public var description: String
  public init(description: String) { self.description = description }
}

/// The repository's `Fixtures/` folder, found from this file's place in the tree.
public let fixturesDirectory: URL = URL(fileURLWithPath: #filePath)
  .deletingLastPathComponent()  // TestSupport
  .deletingLastPathComponent()  // Tests
  .deletingLastPathComponent()  // package root
  .appendingPathComponent("Fixtures")

/// Environment for git in tests: fixed identity and dates, no user or system config.
public let gitEnvironment: [String: String] = {
  var environment = ProcessInfo.processInfo.environment
  environment["GIT_CONFIG_NOSYSTEM"] = "1"
  environment["GIT_CONFIG_GLOBAL"] = "/dev/null"
  environment["GIT_AUTHOR_NAME"] = "Fixture Author"
  environment["GIT_AUTHOR_EMAIL"] = "fixture@example.com"
  environment["GIT_COMMITTER_NAME"] = "Fixture Author"
  environment["GIT_COMMITTER_EMAIL"] = "fixture@example.com"
  environment["GIT_AUTHOR_DATE"] = "2017-03-01T12:00:00Z"
  environment["GIT_COMMITTER_DATE"] = "2017-03-01T12:00:00Z"
  environment["GIT_TERMINAL_PROMPT"] = "0"
  return environment
}()

/// Runs `executable` with `arguments`, waits, and returns what it printed.
@discardableResult
public func runProcess(
  _ executable: String, _ arguments: [String], in directory: URL? = nil,
  environment: [String: String]? = nil, input: String? = nil
) throws -> ProcessOutput {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: executable)
  process.arguments = arguments
  if let directory { process.currentDirectoryURL = directory }
  if let environment { process.environment = environment }
  let outURL = FileManager.default.temporaryDirectory.appendingPathComponent("out-\(UUID().uuidString)")
  let errURL = FileManager.default.temporaryDirectory.appendingPathComponent("err-\(UUID().uuidString)")
  _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
  _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
  defer {
    try? FileManager.default.removeItem(at: outURL)
    try? FileManager.default.removeItem(at: errURL)
  }
  // Files, not pipes: a child that prints a lot cannot block on a full pipe.
  let outHandle = try FileHandle(forWritingTo: outURL)
  let errHandle = try FileHandle(forWritingTo: errURL)
  process.standardOutput = outHandle
  process.standardError = errHandle
  if let input {
    let inURL = FileManager.default.temporaryDirectory.appendingPathComponent("in-\(UUID().uuidString)")
    try Data(input.utf8).write(to: inURL)
    process.standardInput = try FileHandle(forReadingFrom: inURL)
    defer { try? FileManager.default.removeItem(at: inURL) }
    try process.run()
  } else {
    process.standardInput = FileHandle.nullDevice
    try process.run()
  }
  process.waitUntilExit()
  try outHandle.close()
  try errHandle.close()
  return ProcessOutput(
    status: process.terminationStatus,
    stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
    stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
}

/// Runs git with the fixed test environment and returns its standard output; throws when
/// git fails.
@discardableResult
public func git(_ arguments: [String], in directory: URL, input: String? = nil) throws -> String {
  let output = try runProcess(
    "/usr/bin/env", ["git"] + arguments, in: directory, environment: gitEnvironment, input: input)
  guard output.status == 0 else {
    throw FixtureError(
      description: "git \(arguments.joined(separator: " ")) failed (\(output.status)): \(output.stderr)")
  }
  return output.stdout
}

/// Splits git output into its non-empty lines.
public func lines(_ text: String) -> [String] {
  text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
}

/// A fresh directory under the system's temporary folder, removed when the value is released.
public final class TemporaryDirectory: Sendable {
  public let url: URL

  public init(_ label: String = "bisect-deploy-test") throws {
    url = FileManager.default.temporaryDirectory
      .appendingPathComponent("\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  }

  public var path: String { url.path }

  deinit { try? FileManager.default.removeItem(at: url) }
}

/// How a generated history is shaped; see `Fixtures/make-history.py`.
public struct HistoryShape: Sendable {
  public var commits: Int
  public var seed: Int
  public var mergeRatio: Double
  public var bare: Bool
  /// Share of commits dated off their creation time (`--date-skew`): parents newer than
  /// their children, as rebases, cherry-picks and clock skew leave them.
  public var dateSkew: Double
  /// Whether git writes its commit-graph file (`--commit-graph`).
  public var commitGraph: Bool

  public init(
    commits: Int, seed: Int, mergeRatio: Double = 0.2, bare: Bool = false, dateSkew: Double = 0,
    commitGraph: Bool = false
  ) {
    self.commits = commits
    self.seed = seed
    self.mergeRatio = mergeRatio
    self.bare = bare
    self.dateSkew = dateSkew
    self.commitGraph = commitGraph
  }
}

/// Makes a repository with `Fixtures/make-history.py` inside `directory` and returns its path.
public func makeHistory(_ shape: HistoryShape, in directory: URL, name: String = "repo") throws -> URL {
  let target = directory.appendingPathComponent(name)
  var arguments = [
    fixturesDirectory.appendingPathComponent("make-history.py").path, target.path,
    "--commits", String(shape.commits), "--seed", String(shape.seed),
    "--merge-ratio", String(shape.mergeRatio),
  ]
  if shape.bare { arguments.append("--bare") }
  if shape.dateSkew > 0 { arguments += ["--date-skew", String(shape.dateSkew)] }
  if shape.commitGraph { arguments.append("--commit-graph") }
  let output = try runProcess("/usr/bin/env", ["python3"] + arguments, environment: gitEnvironment)
  guard output.status == 0 else {
    throw FixtureError(description: "make-history.py failed (\(output.status)): \(output.stderr)")
  }
  return target
}

/// The folder where SwiftPM put the built products (the test bundle sits beside them).
public let productsDirectory: URL = {
  let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
  var directory = bundle.deletingLastPathComponent()
  // On Linux the test runner is the .xctest file itself; elsewhere it may sit inside it.
  while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("bisect-deploy").path),
    directory.path != "/"
  {
    directory = directory.deletingLastPathComponent()
  }
  return directory
}()

/// The `bisect-deploy` executable the end-to-end tests run: `BISECT_DEPLOY_BINARY` when set
/// (scripts/test points it at the release build, which is what users run), else the one
/// built beside the tests.
public let bisectDeployExecutable: URL = {
  if let path = ProcessInfo.processInfo.environment["BISECT_DEPLOY_BINARY"], !path.isEmpty {
    return URL(fileURLWithPath: path).standardizedFileURL
  }
  return productsDirectory.appendingPathComponent("bisect-deploy")
}()

/// Runs the `bisect-deploy` executable (`bisectDeployExecutable`) with `arguments`.
@discardableResult
public func bisectDeploy(_ arguments: [String], in directory: URL? = nil, environment: [String: String]? = nil)
  throws -> ProcessOutput
{
  try runProcess(bisectDeployExecutable.path, arguments, in: directory, environment: environment ?? gitEnvironment)
}

/// The tests' PostgreSQL server: `scripts/test` starts a private one on loopback and sets
/// `BISECT_DEPLOY_TEST_POSTGRES` (a URL without password) and `PGPASSWORD`. Throws, saying
/// how to get one, when it is not set: a PostgreSQL test never passes without a server.
public func testPostgresURL(schema: String = uniqueSchemaName()) throws -> String {
  guard let base = ProcessInfo.processInfo.environment["BISECT_DEPLOY_TEST_POSTGRES"], !base.isEmpty else {
    throw FixtureError(
      description:
        "BISECT_DEPLOY_TEST_POSTGRES is not set: run the tests with scripts/test, which starts a PostgreSQL server, or start one with scripts/postgres.sh start DIR and source DIR/env"
    )
  }
  return base + (base.contains("?") ? "&" : "?") + "schema=\(schema)"
}

/// A schema name no other test uses: each PostgreSQL test works in a schema of its own.
public func uniqueSchemaName() -> String {
  "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
}

/// Runs SQL on the tests' PostgreSQL server with `psql` (another program's client, not our
/// code) and returns what it printed, unaligned and without headers.
@discardableResult
public func runPostgresSQL(_ sql: String) throws -> String {
  guard let url = ProcessInfo.processInfo.environment["BISECT_DEPLOY_TEST_POSTGRES"] else {
    throw FixtureError(description: "BISECT_DEPLOY_TEST_POSTGRES is not set")
  }
  let output = try runProcess(
    "/usr/bin/env", ["psql", url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
  guard output.status == 0 else { throw FixtureError(description: "psql failed: \(output.stderr)") }
  return output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Runs `executable` with `arguments` through posix_spawn and waitpid, its output going to
/// this process's, and returns its exit status. For commands whose children outlive them
/// (`pg_ctl` starting a server): Foundation's `Process` has been seen to wait forever on
/// such a command after it exited.
public func spawnAndWait(_ executable: String, _ arguments: [String]) throws -> Int32 {
  var pid: pid_t = 0
  let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
  defer { for pointer in argv { free(pointer) } }
  let spawned = posix_spawn(&pid, executable, nil, nil, argv, environ)
  guard spawned == 0 else { throw FixtureError(description: "cannot start \(executable): errno \(spawned)") }
  var status: Int32 = 0
  while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
  // WIFEXITED / WEXITSTATUS, which Swift does not import.
  return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
}

/// The repositories `Fixtures/make-pinned.py` makes: an infrastructure repository pinning
/// kubespawner by commit (hub/Dockerfile) and hubchart by version (chart/Chart.yaml).
public struct PinnedFixture: Sendable {
  public let directory: URL
  public let infra: URL
  public let kubespawner: URL
  public let hubchart: URL
  /// The script's JSON output: the commits the tests need (see the script's docstring).
  public let facts: [String: [String: String]]
  /// infra's branches: name → (tip, culprit).
  public let branches: [String: (tip: String, culprit: String)]
  /// hubchart's versions → their commits.
  public let versions: [String: String]
  public let root: String

  /// A fact of one repository's: `fact("kubespawner", "breaking")`.
  public func fact(_ repository: String, _ name: String) -> String { facts[repository]?[name] ?? "" }

  /// The environment the fixture's smoke test needs (where the dependencies' histories are).
  public var environment: [String: String] {
    var environment = gitEnvironment
    environment["KUBESPAWNER"] = kubespawner.path
    environment["HUBCHART"] = hubchart.path
    return environment
  }
}

/// Makes the pinned fixture inside `directory` (which must be empty).
/// Makes the pinned fixture with `Fixtures/make-pinned.py`; `dateSkew` (0 to 1) dates a share
/// of its commits off their place, so that parents may be newer than children.
public func makePinnedFixture(in directory: URL, dateSkew: Double = 0) throws -> PinnedFixture {
  let skew = dateSkew > 0 ? ["--date-skew", String(dateSkew)] : []
  let output = try runProcess(
    "/usr/bin/env",
    ["python3", fixturesDirectory.appendingPathComponent("make-pinned.py").path, directory.path] + skew,
    environment: gitEnvironment)
  guard output.status == 0 else {
    throw FixtureError(description: "make-pinned.py failed (\(output.status)): \(output.stderr)")
  }
  guard let json = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any],
    let kube = json["kubespawner"] as? [String: Any], let hub = json["hubchart"] as? [String: Any],
    let infra = json["infra"] as? [String: Any], let branches = infra["branches"] as? [String: [String: String]],
    let tags = hub["tags"] as? [String: String], let root = infra["root"] as? String
  else { throw FixtureError(description: "make-pinned.py printed something else: \(output.stdout)") }
  let strings = { (object: [String: Any]) in object.compactMapValues { $0 as? String } }
  return PinnedFixture(
    directory: directory, infra: directory.appendingPathComponent("infra"),
    kubespawner: directory.appendingPathComponent("kubespawner"),
    hubchart: directory.appendingPathComponent("hubchart"),
    facts: ["kubespawner": strings(kube), "hubchart": strings(hub)],
    branches: branches.compactMapValues { value in value["tip"].flatMap { tip in value["culprit"].map { (tip, $0) } } },
    versions: tags, root: root)
}

/// A digest of every file under `folder` (`.git` included; `skipping` paths relative to it
/// left out), by relative path: two equal results mean byte-identical trees. Symbolic links
/// count by their target, not followed.
public func treeDigest(of folder: URL, skipping: [String] = []) throws -> [String: String] {
  var digest = [String: String]()
  let root = folder.standardizedFileURL.path
  guard let walker = FileManager.default.enumerator(atPath: root) else { return [:] }
  while let relative = walker.nextObject() as? String {
    if skipping.contains(where: { relative == $0 || relative.hasPrefix($0 + "/") }) {
      walker.skipDescendants()
      continue
    }
    let path = root + "/" + relative
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    switch attributes[.type] as? FileAttributeType {
    case .typeSymbolicLink?:
      digest[relative] = "link " + (try FileManager.default.destinationOfSymbolicLink(atPath: path))
    case .typeDirectory?:
      digest[relative] = "folder"
    default:
      let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
      // FNV-1a over the bytes, with the size and mode: enough to tell any change here.
      var hash: UInt64 = 0xcbf2_9ce4_8422_2325
      for byte in bytes {
        hash ^= UInt64(byte)
        hash &*= 0x100_0000_01b3
      }
      let mode = (attributes[.posixPermissions] as? Int) ?? 0
      digest[relative] = "\(bytes.count) \(String(hash, radix: 16)) \(String(mode, radix: 8))"
    }
  }
  return digest
}
