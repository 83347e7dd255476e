import ArgumentParser
import BisectEngine
import Foundation
import GitKit
import History

/// `bisect-deploy-bench rounds`: how many rounds a hunt with k environments takes, over many
/// planted culprits of a real history, beside the ideal ceil(log_(k+1) N).
struct RoundsBenchmark: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "rounds",
    abstract: "Rounds of k parallel tests to find a culprit, for k = 1...4, beside ceil(log_(k+1) N).")

  @Option(help: "The repository.") var repo: String
  @Option(help: "The bad end of the range.") var bad = "main"
  @Option(help: "Good ends (default: the root commit of --bad).") var good: [String] = []
  @Option(help: "Culprits to plant, spread evenly over the candidates (all when there are fewer).") var culprits = 200
  @Option(help: "The largest k.") var maxParallel = 4
  @Flag(help: "Search along the first-parent line only.") var firstParent = false

  func run() throws {
    var goods = good
    if goods.isEmpty {
      goods = [String(try runGit(["-C", repo, "rev-list", "--max-parents=0", bad]).split(separator: "\n")[0])]
    }
    let repository = try Repository(at: repo)
    let graph = try repository.commitGraph(
      bad: try repository.resolve(bad), goods: try goods.map { try repository.resolve($0) }, firstParent: firstParent)
    let search = Bisection(graph: firstParent ? graph.firstParentChain() : graph)
    let candidates = search.possibleCulprits
    let total = candidates.count
    let step = max(1, total / max(1, culprits))
    let planted = stride(from: 0, to: total, by: step).map { candidates[$0] }
    // A commit is bad exactly when the culprit is among its ancestors-or-self.
    let ancestry = planted.map { culprit in Set(ancestorsOrSelf(of: culprit, in: search.graph)) }
    let merges = (0..<search.graph.count).count { search.graph.parentCount(of: $0) > 1 }
    print("range: \(bad) ^\(goods.joined(separator: " ^")): N = \(total) candidates, \(merges) merges")
    print("planted culprits: \(planted.count)")
    print("k  mean rounds  max rounds  ceil(log_(k+1) N)  mean tests")
    for k in 1...maxParallel {
      var rounds = [Int]()
      var tests = [Int]()
      for (index, culprit) in planted.enumerated() {
        var bisection = search
        var count = 0
        var tested = 0
        loop: while true {
          switch bisection.nextRound(count: k) {
          case .concluded(let conclusion):
            guard conclusion == .culprit(culprit) else {
              throw ValidationError("k = \(k): planted \(culprit.hex), concluded \(conclusion)")
            }
            break loop
          case .test(let commits):
            count += 1
            for commit in commits {
              bisection.record(ancestry[index].contains(commit) ? .bad : .good, for: commit)
              tested += 1
            }
          }
        }
        rounds.append(count)
        tests.append(tested)
      }
      let ideal = Int(ceil(log(Double(total)) / log(Double(k + 1)) - 1e-9))
      print(
        String(
          format: "%d  %11.2f  %10d  %17d  %10.2f", k, Double(rounds.reduce(0, +)) / Double(rounds.count),
          rounds.max() ?? 0, ideal, Double(tests.reduce(0, +)) / Double(tests.count)))
    }
  }

  /// Every commit whose history holds `culprit`, as ids: walked once per planted culprit.
  private func ancestorsOrSelf(of culprit: ObjectID, in graph: CommitGraph) -> [ObjectID] {
    // Children-first order: a commit is bad when it is the culprit or a parent is bad.
    guard let target = graph.number(of: culprit) else { return [] }
    var bad = [Bool](repeating: false, count: graph.count)
    bad[target] = true
    for number in stride(from: graph.count - 1, through: 0, by: -1) where !bad[number] {
      bad[number] = graph.parents(of: number).contains { bad[$0] }
    }
    return graph.ids.indices.filter { bad[$0] }.map { graph.ids[$0] }
  }
}
