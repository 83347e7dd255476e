import Foundation
import History
import HuntStore
import Testing

@Suite struct VerdictCacheTests {
  func step(
    _ huntID: Int64, _ number: Int, _ commit: Int, _ verdict: Verdict?, reused: Bool = false,
    environment: String = "staging"
  ) -> StepRow {
    StepRow(
      huntID: huntID, number: number, commit: commitHex(commit), environment: environment, purpose: .bisect,
      verdict: verdict, startedAt: date(number), endedAt: date(number + 1), reused: reused)
  }

  @Test(arguments: Backend.allCases) func testedGoodAndBadVerdictsAreReusedBySameFingerprintAndEnvironmentOnly(
    _ backend: Backend
  ) async throws {
    let store = try await TestState(backend).open()
    let first = try await store.createHunt(sampleHunt(fingerprint: "fp-1"))
    try await store.recordStep(step(first.id, 1, 10, .bad))
    try await store.recordStep(step(first.id, 2, 11, .good))
    try await store.recordStep(step(first.id, 3, 12, .skip))
    try await store.recordStep(step(first.id, 4, 13, nil))
    let expected: [String: Verdict] = [commitHex(10): .bad, commitHex(11): .good]
    #expect(try await store.cachedVerdicts(fingerprint: "fp-1", environment: "staging") == expected)
    #expect(try await store.cachedVerdicts(fingerprint: "fp-2", environment: "staging").isEmpty)
    #expect(try await store.cachedVerdicts(fingerprint: "fp-1", environment: "prod").isEmpty)

    // Another environment under the same fingerprint keeps its own verdicts.
    let prod = try await store.createHunt(sampleHunt(environment: "prod", fingerprint: "fp-1"))
    try await store.recordStep(step(prod.id, 1, 10, .good, environment: "prod"))
    #expect(try await store.cachedVerdicts(fingerprint: "fp-1", environment: "prod") == [commitHex(10): .good])
    #expect(try await store.cachedVerdicts(fingerprint: "fp-1", environment: "staging") == expected)
  }

  @Test(arguments: Backend.allCases) func reusedVerdictsAreMarkedAndNotCachedAgain(_ backend: Backend) async throws {
    let store = try await TestState(backend).open()
    let first = try await store.createHunt(sampleHunt(fingerprint: "fp-1"))
    try await store.recordStep(step(first.id, 1, 10, .bad))
    let second = try await store.createHunt(sampleHunt(fingerprint: "fp-1"))
    // A reused verdict that disagrees with the cache would overwrite it if it were cached.
    try await store.recordStep(step(second.id, 1, 10, .good, reused: true))
    try await store.recordStep(step(second.id, 2, 11, .good, reused: true))
    #expect(try await store.cachedVerdicts(fingerprint: "fp-1", environment: "staging") == [commitHex(10): .bad])
    #expect(try await store.steps(huntID: second.id).map(\.reused) == [true, true])
  }

  @Test(arguments: Backend.allCases) func aNewerTestedVerdictReplacesTheCachedOne(_ backend: Backend) async throws {
    let store = try await TestState(backend).open()
    let first = try await store.createHunt(sampleHunt())
    try await store.recordStep(step(first.id, 1, 10, .bad))
    let second = try await store.createHunt(sampleHunt())
    try await store.recordStep(step(second.id, 1, 10, .good))
    try await store.recordStep(step(second.id, 2, 10, .skip))
    #expect(try await store.cachedVerdicts(fingerprint: "fp-1", environment: "staging") == [commitHex(10): .good])
  }
}
