import Foundation
import TestSupport
import Testing

/// Messages a new user meets (issue 27), through the release binary: each says what the
/// input is and what to type instead, with the documented exit code.
@Suite struct MessageTests {
  final class Shared: Sendable {
    let directory: TemporaryDirectory
    let repo: URL
    init() throws {
      directory = try TemporaryDirectory()
      repo = try makeHistory(HistoryShape(commits: 30, seed: 41, mergeRatio: 0.2), in: directory.url)
    }
  }

  static let shared = Result { try Shared() }

  static func run(_ arguments: [String]) throws -> ProcessOutput {
    try bisectDeploy(arguments, in: try shared.get().repo)
  }

  @Test(
    "a range where one commit is expected is said to be a range, with its two ends as flags (exit 65)",
    arguments: [["range"], ["plan"], ["hunt", "--test", "true"]])
  func rangeForOneCommit(command: [String]) throws {
    let output = try Self.run(command + ["--good", "v0.1..main", "--bad", "main"])
    #expect(output.status == 65, "\(output.stderr)")
    #expect(
      lines(output.stderr) == [
        "bisect-deploy: error: --good 'v0.1..main' is a range (git's A..B), not one commit: give its two ends, as --good v0.1 --bad main."
      ])
  }

  @Test("a symmetric range A...B is said to be a range too")
  func symmetricRange() throws {
    let output = try Self.run(["range", "--good", "v0.1", "--bad", "v0.1...main"])
    #expect(output.status == 65, "\(output.stderr)")
    #expect(output.stderr.contains("--bad 'v0.1...main' is a range (git's A...B)"), "\(output.stderr)")
  }

  @Test("main^@ (all of main's parents) is refused, not read as main^ as libgit2 reads it")
  func allParents() throws {
    let output = try Self.run(["range", "--good", "v0.1", "--bad", "main^@"])
    #expect(output.status == 65, "\(output.stdout)\(output.stderr)")
    #expect(output.stderr.contains("is git's notation for several commits (all the parents of main)"))
  }

  @Test("^v0.1 (a commit left out of a range) is refused, naming the commit to give instead")
  func exclusion() throws {
    let output = try Self.run(["range", "--good", "^v0.1", "--bad", "main"])
    #expect(output.status == 65, "\(output.stderr)")
    #expect(output.stderr.contains("give the commit itself, as --good v0.1."), "\(output.stderr)")
  }

  @Test("HEAD^{tree} names a tree, not a commit: said so (exit 65)")
  func treeForCommit() throws {
    let output = try Self.run(["range", "--good", "v0.1", "--bad", "HEAD^{tree}"])
    #expect(output.status == 65, "\(output.stderr)")
    #expect(output.stderr.contains("'HEAD^{tree}' does not name a commit"), "\(output.stderr)")
  }

  @Test("a message search containing .. (:/a..b) is a revision, not a range")
  func messageSearchIsNotARange() throws {
    let output = try Self.run(["range", "--good", "v0.1", "--bad", ":/no..such..subject"])
    #expect(output.status == 65, "\(output.stderr)")
    #expect(!output.stderr.contains("is a range"), "\(output.stderr)")
  }

  @Test("--config /dev/null is said to be a character device, with the path (exit 78)")
  func configurationDevice() throws {
    let output = try Self.run(["--good", "v0.1", "--bad", "main", "--test", "true", "--config", "/dev/null"])
    #expect(output.status == 78, "\(output.stderr)")
    #expect(
      lines(output.stderr) == [
        "bisect-deploy: error: Cannot read the configuration file '/dev/null': it is a character device, not a regular file."
      ])
  }

  @Test("an unknown configuration key is answered with the nearest known key (exit 78)")
  func unknownKey() throws {
    let directory = try TemporaryDirectory()
    let file = directory.url.appendingPathComponent("c.yml")
    try "tset: ./smoke.sh\n".write(to: file, atomically: true, encoding: .utf8)
    let output = try Self.run(["--good", "v0.1", "--bad", "main", "--config", file.path])
    #expect(output.status == 78, "\(output.stderr)")
    #expect(
      lines(output.stderr) == ["bisect-deploy: error: \(file.path):1: key 'tset': unknown key; did you mean 'test'?"])
  }

  @Test("status with no unfinished hunt exits 9 (nothing to show), not 64 (a usage error)")
  func statusNothingOpen() throws {
    let output = try Self.run(["status"])
    #expect(output.status == 9, "\(output.stderr)")
    #expect(
      lines(output.stderr) == [
        "bisect-deploy: No unfinished hunt. Start one with bisect-deploy --good REV --bad REV."
      ])
  }

  @Test("status --env with no unfinished hunt there exits 9 too")
  func statusNothingOnEnvironment() throws {
    let output = try Self.run(["status", "--env", "dev2"])
    #expect(output.status == 9, "\(output.stderr)")
  }

  @Test("report and log with no hunt recorded exit 9 (nothing to show)", arguments: ["report", "log"])
  func nothingRecorded(command: String) throws {
    let output = try Self.run([command])
    #expect(output.status == 9, "\(output.stderr)")
  }
}
