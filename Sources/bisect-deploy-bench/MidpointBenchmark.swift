import ArgumentParser
import BisectEngine
import Foundation
import GitKit
import History

/// `bisect-deploy-bench midpoint`: the first midpoint of a range, graph load included, beside
/// `git rev-list --bisect-vars` on the same range in the same run, with both splits.
struct MidpointBenchmark: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "midpoint",
    abstract: "Time choosing the first midpoint (graph load included) beside git rev-list --bisect-vars.")

  @Option(help: "The repository.") var repo: String
  @Option(help: "The bad end of the range.") var bad = "main"
  @Option(help: "Good ends (default: the root commit of --bad).") var good: [String] = []
  @Option(help: "Runs of our side; the median is reported (git runs once: it is slow).") var runs = 3

  func run() throws {
    var goods = good
    if goods.isEmpty {
      goods = [String(try runGit(["-C", repo, "rev-list", "--max-parents=0", bad]).split(separator: "\n")[0])]
    }
    var times = [Double]()
    var chosen: ObjectID?
    var bisection: Bisection?
    for _ in 0..<runs {
      let started = ContinuousClock.now
      let repository = try Repository(at: repo)
      let graph = try repository.commitGraph(
        bad: try repository.resolve(bad), goods: try goods.map { try repository.resolve($0) })
      let search = Bisection(graph: graph)
      if case .test(let commit) = search.next() { chosen = commit }
      times.append(seconds(ContinuousClock.now - started))
      bisection = search
    }
    guard let bisection, let chosen, let ourReach = bisection.reach(of: chosen) else {
      throw ValidationError("the range has nothing to test")
    }
    let total = bisection.remainingCount

    let started = ContinuousClock.now
    let vars = try runGit(["-C", repo, "rev-list", "--bisect-vars", bad] + goods.map { "^" + $0 })
    let gitTime = seconds(ContinuousClock.now - started)
    // git prints bisect_rev='<hash>'.
    let quote = CharacterSet(charactersIn: "'")
    let gitRev = vars.split(separator: "\n").first { $0.hasPrefix("bisect_rev=") }
      .map { $0.dropFirst(11).trimmingCharacters(in: quote) }
    let gitReach = gitRev.flatMap { ObjectID(hex: $0) }.flatMap { bisection.reach(of: $0) }

    let ourSplit = min(ourReach, total - ourReach)
    print("range: \(bad) ^\(goods.joined(separator: " ^")) (\(total) candidates)")
    print(
      String(
        format: "bisect-deploy: %.3f s median of %d (graph load + first midpoint), split %d", median(times), runs,
        ourSplit))
    if let gitReach {
      let gitSplit = min(gitReach, total - gitReach)
      print(String(format: "git rev-list --bisect-vars: %.3f s, split %d", gitTime, gitSplit))
      print(
        String(
          format: "speed-up: %.1fx; split difference: %d commits (%.3f%% of N)", gitTime / median(times),
          ourSplit - gitSplit, 100 * Double(ourSplit - gitSplit) / Double(total)))
    } else {
      print(String(format: "git rev-list --bisect-vars: %.3f s (its choice is outside our candidates)", gitTime))
    }
  }
}
