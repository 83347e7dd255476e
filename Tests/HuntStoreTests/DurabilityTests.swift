import Foundation
import History
import HuntStore
import TestSupport
import Testing

/// Set in the environment of the writer child: the state it writes to (a path or a URL).
private let childDatabaseVariable = "HUNTSTORE_KILL_TEST_DATABASE"
/// Set in the environment of the writer child: the file it notes each stored step in.
private let childProgressVariable = "HUNTSTORE_KILL_TEST_PROGRESS"

@Suite struct DurabilityTests {
  /// The writer the SIGKILL test starts as a child process (this test binary, run again with a
  /// filter): it records steps as fast as it can, and after each `recordStep` returns it
  /// appends the step's number to a progress file. Idle in a normal run.
  @Test(.enabled(if: ProcessInfo.processInfo.environment[childDatabaseVariable] != nil))
  func writerChild() async throws {
    let environment = ProcessInfo.processInfo.environment
    let store = try await StateLocation(parsing: environment[childDatabaseVariable] ?? "").open()
    var hunt = try await store.unfinishedHunt(environment: "staging")
    if hunt == nil { hunt = try await store.createHunt(sampleHunt()) }
    let id = try #require(hunt).id
    var number = try await store.steps(huntID: id).count
    let progress = try FileHandle(forWritingTo: URL(fileURLWithPath: environment[childProgressVariable] ?? ""))
    try progress.seekToEnd()
    while true {
      number += 1
      try await store.recordStep(sampleStep(huntID: id, number: number))
      try progress.write(contentsOf: Data("\(number)\n".utf8))
    }
  }

  /// Kills the writer with SIGKILL at random moments, five times over, and each time checks
  /// that the file opens, passes `integrity_check`, and holds exactly the steps 1...n with
  /// every step whose `recordStep` had returned (at most the one in flight is missing), then
  /// lets the next writer continue where the last one stopped, as `resume` would.
  @Test(arguments: Backend.allCases) func everyCommittedStepSurvivesKill9(_ backend: Backend) async throws {
    let state = try TestState(backend)
    _ = try await state.open()
    let folder = state.folder
    let progressPath = folder.path + ".progress"
    try FileManager.default.createDirectory(
      atPath: (progressPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    #expect(FileManager.default.createFile(atPath: progressPath, contents: Data()))
    let testBinary = try #require(Self.testBinary())
    var environment = ProcessInfo.processInfo.environment
    environment[childDatabaseVariable] = state.text
    environment[childProgressVariable] = progressPath
    var acknowledged = 0
    var generator = SystemRandomNumberGenerator()
    for round in 1...5 {
      let child = Process()
      child.executableURL = testBinary
      child.arguments = ["--testing-library", "swift-testing", "--filter", "writerChild"]
      child.environment = environment
      child.standardOutput = FileHandle.nullDevice
      child.standardError = FileHandle.nullDevice
      try child.run()
      // Wait until this writer has committed something, then a random moment more.
      let deadline = Date().addingTimeInterval(20)
      while try Self.lastNumber(progressPath) <= acknowledged && child.isRunning && Date() < deadline {
        usleep(2_000)
      }
      usleep(UInt32.random(in: 0...40_000, using: &generator))
      kill(child.processIdentifier, SIGKILL)
      child.waitUntilExit()
      #expect(child.terminationReason == .uncaughtSignal, "round \(round): the writer ended by itself")

      acknowledged = try Self.lastNumber(progressPath)
      let store = try await state.open()
      if backend == .sqlite { #expect(try folder.open().integrityCheck() == ["ok"]) }
      let hunt = try #require(try await store.unfinishedHunt(environment: "staging"))
      let steps = try await store.steps(huntID: hunt.id)
      #expect(steps == (0..<steps.count).map { sampleStep(huntID: hunt.id, number: $0 + 1) })
      #expect(steps.count >= acknowledged, "round \(round): a step whose recordStep returned is missing")
      #expect(steps.count <= acknowledged + 1, "round \(round)")
      #expect(acknowledged > 0)
      // The verdict cache moved with the steps: one entry per tested good or bad commit.
      let cached = try await store.cachedVerdicts(fingerprint: hunt.configFingerprint, environment: "staging")
      #expect(cached.count == steps.filter { ($0.verdict == .good || $0.verdict == .bad) && !$0.reused }.count)
      acknowledged = steps.count
      // The next writer continues after what is in the file.
      try Data("\(steps.count)\n".utf8).write(to: URL(fileURLWithPath: progressPath))
    }
    if backend == .sqlite { #expect(try queryPythonSQLite(folder.path, "PRAGMA integrity_check") == "ok") }
  }

  /// The last number in the progress file; 0 when it is empty.
  static func lastNumber(_ path: String) throws -> Int {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    // The kill may cut the last line short; only whole lines count.
    let whole = text.hasSuffix("\n") ? text : String(text[..<(text.lastIndex(of: "\n") ?? text.startIndex)])
    return whole.split(separator: "\n").last.flatMap { Int($0) } ?? 0
  }

  /// This test binary, which the child runs again with a filter.
  static func testBinary() -> URL? {
    let path = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
    return FileManager.default.isExecutableFile(atPath: path.path) ? path : nil
  }
}
