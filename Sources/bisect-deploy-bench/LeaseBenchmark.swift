import ArgumentParser
import Foundation
import History
import HuntStore
import HuntStorePostgres

/// `bisect-deploy-bench leases`: processes taking and giving back environments as fast as
/// they can, each cycle what a step asks of the store: take a lease, renew it, record a step,
/// give it back. Prints operations per second and each operation's p50 and p99 latency.
struct LeaseBenchmark: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "leases",
    abstract: "Lease acquire, renew and release (and a step's record) under load from several processes.")

  @Option(help: "The state: a postgres:// URL (password from PGPASSWORD) or an SQLite file.") var state: String
  @Option(help: "How many processes.") var processes = 8
  @Option(help: "How long they run, in seconds.") var seconds = 30.0
  @Option(help: "How many environments they compete for.") var environments = 16
  @Option(help: "(for the worker processes)") var worker: Int?
  @Option(help: "(for the worker processes)") var hunt: Int64?
  @Option(help: "(for the worker processes)") var output: String?

  /// The operations timed, in the order a cycle runs them.
  static let kinds = ["acquire", "refused", "renew", "record-step", "release", "failed"]

  func run() async throws {
    let location = try StateLocation(parsing: state)
    if let worker, let hunt, let output {
      try await work(worker, hunt: hunt, location: location, output: output)
      return
    }
    let store = try await location.open()
    var hunts = [Int64]()
    for index in 0..<processes {
      hunts.append(
        try await store.createHunt(
          NewHunt(
            repositoryPath: "/bench", bad: String(repeating: "b", count: 40),
            goods: [String(repeating: "a", count: 40)],
            environment: "bench-\(index)", configFingerprint: "bench", commandLine: "bench")
        ).id)
    }
    await store.close()
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lease-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let executable = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
    var children = [Process]()
    for index in 0..<processes {
      let child = Process()
      child.executableURL = executable
      child.arguments = [
        "leases", "--state", state, "--seconds", String(seconds), "--environments", String(environments),
        "--worker", String(index), "--hunt", String(hunts[index]),
        "--output", folder.appendingPathComponent("\(index).json").path,
      ]
      try child.run()
      children.append(child)
    }
    for child in children { child.waitUntilExit() }
    var all = [String: [Double]]()
    for index in 0..<processes {
      let data = try Data(contentsOf: folder.appendingPathComponent("\(index).json"))
      let found = try JSONDecoder().decode([String: [Double]].self, from: data)
      for (kind, values) in found { all[kind, default: []] += values }
    }
    let total = all.values.reduce(0) { $0 + $1.count }
    print(
      "leases: \(processes) processes, \(environments) environments, \(Int(seconds)) s, state \(location.kind)")
    print(String(format: "  %d operations, %.0f per second", total, Double(total) / seconds))
    for kind in Self.kinds {
      let values = (all[kind] ?? []).sorted()
      guard !values.isEmpty else { continue }
      print(
        "  " + kind.padding(toLength: 12, withPad: " ", startingAt: 0)
          + String(
            format: " %7d  p50 %6.2f ms  p99 %6.2f ms  max %7.2f ms", values.count, percentile(values, 0.5),
            percentile(values, 0.99), values.last ?? 0))
    }
    let step = ["record-step"].flatMap { all[$0] ?? [] }.sorted()
    if !step.isEmpty {
      print(
        String(
          format: "  a step's own store time (its record): p50 %.2f ms, p99 %.2f ms", percentile(step, 0.5),
          percentile(step, 0.99)))
    }
  }

  /// One worker: cycles until the time is up, then writes its latencies (milliseconds).
  func work(_ index: Int, hunt: Int64, location: StateLocation, output: String) async throws {
    let store = try await location.open()
    let claim = LeaseClaim.current(huntID: hunt, token: UUID().uuidString, duration: .seconds(30))
    var latencies = [String: [Double]]()
    var generator = SystemRandomNumberGenerator()
    var number = 0
    let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
    /// Times one operation under `kind`; one that fails (SQLite's busy timeout ran out) is
    /// timed under "failed" instead, and the cycle goes on.
    func timed(_ kind: String, _ body: () async throws -> Void) async -> Bool {
      let started = ContinuousClock.now
      do {
        try await body()
      } catch {
        latencies["failed", default: []].append((ContinuousClock.now - started).seconds * 1000)
        return false
      }
      latencies[kind, default: []].append((ContinuousClock.now - started).seconds * 1000)
      return true
    }
    while ContinuousClock.now < deadline {
      let environment = "env-\(Int.random(in: 0..<environments, using: &generator))"
      let started = ContinuousClock.now
      do {
        _ = try await store.acquireLeases([environment], for: claim)
      } catch {
        let kind = if case .locked = error { "refused" } else { "failed" }
        latencies[kind, default: []].append((ContinuousClock.now - started).seconds * 1000)
        continue
      }
      latencies["acquire", default: []].append((ContinuousClock.now - started).seconds * 1000)
      _ = await timed("renew") { _ = try await store.renewLeases([environment], for: claim) }
      number += 1
      let step = StepRow(
        huntID: hunt, number: number, commit: String(repeating: "c", count: 40), environment: environment,
        purpose: .bisect, verdict: number % 2 == 0 ? .good : .bad, startedAt: Date(), endedAt: Date())
      _ = await timed("record-step") { try await store.recordStep(step) }
      // A release that failed is tried again (a few times): the next cycle must not find its
      // own lease there.
      var released = false
      for _ in 0..<10 where !released {
        released = await timed("release") { try await store.releaseLeases([environment], for: claim) }
      }
    }
    await store.close()
    try JSONEncoder().encode(latencies).write(to: URL(fileURLWithPath: output))
    _ = index
  }

  func percentile(_ sorted: [Double], _ share: Double) -> Double {
    sorted[min(sorted.count - 1, Int((Double(sorted.count) * share).rounded(.down)))]
  }
}

extension StateLocation {
  /// "PostgreSQL" or "SQLite", for the benchmark's heading.
  var kind: String {
    if case .postgres = self { return "PostgreSQL" }
    return "SQLite"
  }
}
