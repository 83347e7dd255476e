import HuntKit
import Testing

@Suite("Several environments and the flaky-test keys")
struct EnvironmentListTests {
  @Test("several environments: a list under 'environment', in the order written, duplicates once")
  func severalEnvironments() throws {
    let text = """
      test: ./smoke.sh
      environment: [dev2, dev1, dev2]
      environments:
        dev1: {variables: {NAMESPACE: ns-1}}
        dev2: {variables: {NAMESPACE: ns-2}}
        prod: {protected: true}
      """
    let configuration = try Configuration.parse(text, path: "x.yml")
    let chosen = try configuration.environmentsInUse()
    #expect(chosen.map(\.name) == ["dev2", "dev1"])
    #expect(chosen.map { $0.variables["NAMESPACE"] } == ["ns-2", "ns-1"])
    #expect(try configuration.environment().name == "dev2")
    // A hunt over several environments has its own fingerprint; one environment keeps its own.
    #expect(configuration.fingerprint(for: chosen) != configuration.fingerprint(for: chosen[0]))
    #expect(configuration.fingerprint(for: [chosen[0]]) == configuration.fingerprint(for: chosen[0]))
    var unknown = configuration
    unknown.environmentNames = ["dev1", "qa"]
    #expect(throws: ConfigurationError.unknownEnvironment("qa", known: ["dev1", "dev2", "prod"])) {
      try unknown.environmentsInUse()
    }
  }

  @Test("repeat, confirm, descend and flaky keys; a bad rate names the file, line and key")
  func flakyKeys() throws {
    let text = """
      test: ./smoke.sh
      repeat: 3
      repeat_rule: any-bad
      confirm: 5
      descend: true
      flaky:
        false_bad: 10%
        false_good: 0.02
        confidence: 0.995
        budget: 40
      """
    let configuration = try Configuration.parse(text, path: "x.yml")
    #expect(configuration.testRuns == 3)
    #expect(configuration.repeatRule == .anyBad)
    #expect(configuration.confirmRuns == 5)
    #expect(configuration.descend)
    #expect(configuration.flaky == FlakyMode(falseBad: 0.1, falseGood: 0.02, confidence: 0.995, budget: 40))
    #expect(try Configuration.parse("flaky: true", path: "x.yml").flaky == FlakyMode())
    #expect(try Configuration.parse("flaky: false", path: "x.yml").flaky == nil)
    #expect(throws: ConfigurationError.self) { try Configuration.parse("repeat: 0", path: "x.yml") }
    let error = #expect(throws: ConfigurationError.self) {
      try Configuration.parse("flaky:\n  false_bad: 0.7\n", path: "x.yml")
    }
    #expect(error?.errorDescription?.contains("x.yml:2: key 'false_bad'") == true)
  }
}
