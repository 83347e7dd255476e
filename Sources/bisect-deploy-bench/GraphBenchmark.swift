import ArgumentParser
import Foundation
import GitKit
import History

/// `bisect-deploy-bench graph`: loads a range's commit graph with libgit2 and times it beside
/// `git rev-list --count` on the same range, in the same run.
struct GraphBenchmark: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "graph",
    abstract: "Time loading a range's commit graph beside git rev-list --count.")

  @Option(help: "The repository.") var repo: String
  @Option(help: "The bad end of the range.") var bad = "main"
  @Option(help: "Good ends (none: the whole history of --bad).") var good: [String] = []
  @Option(help: "Runs of each side; the median is reported.") var runs = 5

  func run() throws {
    let repository = try Repository(at: repo)
    let badID = try repository.resolve(bad)
    let goodIDs = try good.map { try repository.resolve($0) }
    var ours = [Double]()
    var count = 0
    for _ in 0..<runs {
      let started = ContinuousClock.now
      // A new repository each run, so no cache of ours survives between runs.
      let fresh = try Repository(at: repo)
      let graph = try fresh.commitGraph(bad: badID, goods: goodIDs)
      ours.append(seconds(ContinuousClock.now - started))
      count = graph.count
    }
    var theirs = [Double]()
    var gitCount = ""
    for _ in 0..<runs {
      let started = ContinuousClock.now
      gitCount = try runGit(["-C", repo, "rev-list", "--count", bad] + good.map { "^" + $0 })
      theirs.append(seconds(ContinuousClock.now - started))
    }
    let merges = try runGit(["-C", repo, "rev-list", "--count", "--merges", bad] + good.map { "^" + $0 })
    let ourMedian = median(ours)
    let gitMedian = median(theirs)
    print("range: \(bad)\(good.isEmpty ? "" : " ^" + good.joined(separator: " ^"))")
    print("commits: ours \(count), git \(gitCount) (\(merges) merges)")
    print(
      String(
        format: "bisect-deploy graph load: median %.3f s over %d runs (min %.3f)", ourMedian, runs, ours.min() ?? 0))
    print(
      String(
        format: "git rev-list --count:     median %.3f s over %d runs (min %.3f)", gitMedian, runs, theirs.min() ?? 0))
    print(String(format: "ratio ours/git: %.2f", ourMedian / gitMedian))
    if String(count) != gitCount { throw ValidationError("commit counts differ: ours \(count), git \(gitCount)") }
  }
}

func seconds(_ duration: Duration) -> Double {
  Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func median(_ values: [Double]) -> Double {
  let sorted = values.sorted()
  return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
}

/// Runs git and returns its trimmed standard output.
func runGit(_ arguments: [String]) throws -> String {
  try runTool("git", arguments).trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Runs a program found on PATH and returns its standard output; throws when it fails.
func runTool(_ program: String, _ arguments: [String]) throws -> String {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  process.arguments = [program] + arguments
  let pipe = Pipe()
  process.standardOutput = pipe
  try process.run()
  let data = pipe.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  guard process.terminationStatus == 0 else {
    throw ValidationError("\(program) \(arguments.joined(separator: " ")) failed")
  }
  return String(decoding: data, as: UTF8.self)
}
