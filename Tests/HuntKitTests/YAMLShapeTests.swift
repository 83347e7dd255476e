import Foundation
import HuntKit
import Testing

/// Configurations built to make the YAML parser work forever (issue 30, item 4).
@Suite struct YAMLShapeTests {
  static func laughs(levels: Int, tail: String) -> String {
    var lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in 1...levels {
      lines.append(
        "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ", ") + "]")
    }
    return (lines + [tail]).joined(separator: "\n") + "\n"
  }

  @Test("an alias used as a key is refused, naming its line")
  func aliasKey() {
    #expect(
      throws: ConfigurationError.refused(
        path: "c.yml", line: 5, problem: "an alias (*a3) is used as a key; keys must be plain words")
    ) {
      try Configuration.parse(Self.laughs(levels: 3, tail: "? *a3\n: boom"), path: "c.yml")
    }
  }

  @Test("a billion laughs is refused where its expansion passes the limit, before anything is expanded")
  func billionLaughs() {
    let started = ContinuousClock.now
    #expect(
      throws: ConfigurationError.refused(
        path: "c.yml", line: 6,
        problem: "its aliases expand to more than 100000 values; a configuration needs far fewer")
    ) {
      try Configuration.parse(Self.laughs(levels: 8, tail: "? *a8\n: boom"), path: "c.yml")
    }
    #expect(ContinuousClock.now - started < .seconds(5))
  }

  @Test("a list or mapping used as a key is refused")
  func collectionKey() {
    #expect(throws: ConfigurationError.self) { try Configuration.parse("? [a, b]\n: x\n", path: "c.yml") }
    #expect(throws: ConfigurationError.self) { try Configuration.parse("{a: b}: x\n", path: "c.yml") }
  }

  @Test("aliases that expand past the limit are refused; a few anchors and aliases as values are fine")
  func expansion() throws {
    #expect(throws: ConfigurationError.self) {
      try Configuration.parse(Self.laughs(levels: 8, tail: "test: *a8"), path: "c.yml")
    }
    let fine = try Configuration.parse("deploy: &d ./deploy.sh\ntest: *d\n", path: "c.yml")
    #expect(fine.testCommand == "./deploy.sh")
  }
}
