import Foundation
import TestSupport
import Testing

/// The `bisect-deploy` executable, run for real: output, JSON and exit codes.
@Suite struct RangeCommandTests {
  final class Shared: Sendable {
    let directory: TemporaryDirectory
    let path: URL
    /// Merged pull requests whose dates run against the graph, without and with git's
    /// commit-graph file: the walk's order and the graph's numbering differ there.
    let skewed: URL
    let skewedWithGraph: URL
    init() throws {
      directory = try TemporaryDirectory()
      path = try makeHistory(HistoryShape(commits: 150, seed: 21, mergeRatio: 0.25), in: directory.url)
      skewed = try makeHistory(
        HistoryShape(commits: 150, seed: 27, mergeRatio: 0.3, dateSkew: 0.35), in: directory.url, name: "skewed")
      skewedWithGraph = try makeHistory(
        HistoryShape(commits: 150, seed: 27, mergeRatio: 0.3, dateSkew: 0.35, commitGraph: true), in: directory.url,
        name: "skewed-graph")
    }

    func history(_ name: String) -> URL {
      switch name {
      case "skewed": skewed
      case "skewed-graph": skewedWithGraph
      default: path
      }
    }
  }

  static let shared = Result { try Shared() }
  static let histories = ["plain", "skewed", "skewed-graph"]

  @Test("--version and --help answer and exit 0")
  func versionAndHelp() throws {
    let version = try bisectDeploy(["--version"])
    #expect(version.status == 0)
    #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
    let help = try bisectDeploy(["--help"])
    #expect(help.status == 0)
    #expect(help.stdout.contains("range"))
  }

  @Test(
    "range prints what git log --format='%H %s' prints, line for line; --json lists the same commits in the same order",
    arguments: histories,
    [
      (["--good", "v0.1", "--bad", "main"], ["main", "^v0.1"]),
      (["--good", "v0.1", "--bad", "main", "--first-parent"], ["--first-parent", "main", "^v0.1"]),
      (["--good", "v0.1", "--good", "unmerged", "--bad", "main"], ["main", "^v0.1", "^unmerged"]),
      (["--good", "v0.1", "--bad", "main", "--", "config"], ["main", "^v0.1", "--", "config"]),
    ])
  func rangeMatchesGit(history: String, range: (arguments: [String], gitArguments: [String])) throws {
    let (arguments, gitArguments) = range
    let path = try Self.shared.get().history(history)
    let expected = lines(try git(["log", "--format=%H %s"] + gitArguments, in: path))
    let count = try bisectDeploy(["range", "--count"] + arguments, in: path)
    #expect(count.status == 0, "\(count.stderr)")
    #expect(count.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == String(expected.count))

    let listing = try bisectDeploy(["range", "--repo", path.path] + arguments)
    #expect(listing.status == 0)
    #expect(Array(lines(listing.stdout).dropFirst()) == expected, "\(history): \(arguments)")
    #expect(listing.stdout.hasPrefix("\(expected.count) commit"))

    let json = try bisectDeploy(["range", "--json", "--repo", path.path] + arguments)
    #expect(json.status == 0)
    let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    #expect(object["count"] as? Int == expected.count)
    let commits = (object["commits"] as? [[String: Any]] ?? []).map {
      "\($0["id"] as? String ?? "?") \($0["summary"] as? String ?? "?")"
    }
    #expect(commits == expected, "\(history): \(arguments)")
  }

  @Test("a good that is not an ancestor of bad is noted on stderr, with the merge base")
  func notAncestorNote() throws {
    let path = try Self.shared.get().path
    let output = try bisectDeploy(["range", "--count", "--good", "unmerged", "--bad", "main"], in: path)
    #expect(output.status == 0)
    let base = lines(try git(["merge-base", "unmerged", "main"], in: path))[0]
    #expect(output.stderr.contains("not an ancestor") && output.stderr.contains(String(base.prefix(7))))
  }

  @Test("swapped ends list nothing and say so on stderr")
  func swappedEndsNote() throws {
    let path = try Self.shared.get().path
    let output = try bisectDeploy(["range", "--good", "main", "--bad", "v0.1"], in: path)
    #expect(output.status == 0)
    #expect(output.stdout == "0 commits in range (0 merges)\n")
    #expect(output.stderr.contains("--bad v0.1 is an ancestor of --good main"), "\(output.stderr)")
  }

  @Test("bad input gets a clear message and its own exit code")
  func errors() throws {
    let path = try Self.shared.get().path
    let outside = try TemporaryDirectory()

    let notRepo = try bisectDeploy(["range", "--good", "a", "--bad", "b", "--repo", outside.path])
    #expect(notRepo.status == 66)
    #expect(notRepo.stderr.contains(outside.path) && notRepo.stderr.contains("not a git repository"))
    #expect(notRepo.stdout.isEmpty)

    let unknown = try bisectDeploy(["range", "--good", "v0.1", "--bad", "nope-nope"], in: path)
    #expect(unknown.status == 65)
    #expect(unknown.stderr.contains("'nope-nope'"))

    let objects = lines(try git(["rev-list", "--all", "--objects"], in: path)).map { String($0.prefix(40)) }
    let prefix = try #require(Dictionary(grouping: objects) { String($0.prefix(4)) }.first { $0.value.count > 1 }?.key)
    let ambiguous = try bisectDeploy(["range", "--good", prefix, "--bad", "main"], in: path)
    #expect(ambiguous.status == 65)
    #expect(ambiguous.stderr.contains("Ambiguous") && ambiguous.stderr.contains(prefix))

    let missingGood = try bisectDeploy(["range", "--bad", "main"], in: path)
    #expect(missingGood.status == 64)
    #expect(missingGood.stderr.contains("--good"))

    let clone = outside.url.appendingPathComponent("shallow")
    try git(["clone", "-q", "--depth", "3", "file://" + path.path, clone.path], in: outside.url)
    let root = lines(try git(["rev-list", "--max-parents=0", "main"], in: path))[0]
    let shallow = try bisectDeploy(["range", "--good", root, "--bad", "main"], in: clone)
    #expect(shallow.status == 65, "the root was never fetched, so it cannot even be named")
    #expect(shallow.stderr.contains("shallow clone"))
  }
}
