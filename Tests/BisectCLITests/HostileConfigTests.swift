import Foundation
import TestSupport
import Testing

/// Configuration files built to hang the tool (issue 30, item 4).
@Suite struct HostileConfigTests {
  typealias Bench = HuntTests.Bench

  /// `levels` levels of nine aliases each ("billion laughs" at 8); `tail` follows them.
  static func laughs(levels: Int, _ tail: String) -> String {
    var lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in 1...levels {
      let previous = "*a\(level - 1)"
      lines.append("a\(level): &a\(level) [" + Array(repeating: previous, count: 9).joined(separator: ", ") + "]")
    }
    return (lines + [tail]).joined(separator: "\n") + "\n"
  }

  @Test(
    "a billion-laughs alias used as a key, or expanded as a value, is refused at once (78) naming the file and line",
    arguments: [
      (3, "? *a3\n: boom", "an alias (*a3) is used as a key", 5), (8, "? *a8\n: boom", "expand to more than", 6),
      (8, "test: *a8", "expand to more than", 6),
    ])
  func billionLaughs(levels: Int, tail: String, says: String, line: Int) throws {
    let bench = try Bench(commits: 30, seed: 97)
    let config = bench.directory.url.appendingPathComponent("bomb.yml")
    try Self.laughs(levels: levels, tail).write(to: config, atomically: true, encoding: .utf8)
    let started = Date()
    let output = try bench.hunt(["--config", config.path, "--test", "exit 0"])
    #expect(output.status == 78, "\(output.stdout)\(output.stderr)")
    #expect(output.stderr.contains("\(config.path):\(line)"), "\(output.stderr)")
    #expect(output.stderr.contains(says), "\(output.stderr)")
    // Refused before anything is expanded: well under the minute the expansion took.
    #expect(Date().timeIntervalSince(started) < 20)
    #expect(bench.marker("deploys") == nil)
  }

  @Test("anchors and aliases used as values still work")
  func ordinaryAnchors() throws {
    let bench = try Bench(commits: 30, seed: 99)
    let culprit = try bench.commit(7)
    let config = bench.directory.url.appendingPathComponent("anchors.yml")
    try """
    timeouts: &limits
      deploy: 5m
      test: 2m
    test: &smoke "\(bench.predicate(culprit: culprit).replacingOccurrences(of: "\"", with: "\\\""))"
    environments:
      dev: &dev
        variables:
          SMOKE: "yes"
      dev2: *dev
    """.write(to: config, atomically: true, encoding: .utf8)
    let output = try bench.hunt(["--config", config.path, "--env", "dev"])
    #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
    #expect(output.stdout.contains("The first bad commit is \(culprit)"))
  }
}
