import ArgumentParser
import BisectEngine
import Foundation
import GitKit
import History

/// `bisect-deploy plan`: what a hunt would do, without deploying anything.
struct PlanCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "plan",
    abstract: "Show the candidate count, the expected number of steps, and the first commit(s) a hunt would test."
  )

  @OptionGroup var range: RangeOptions

  @Option(help: "Environments used at once: the first round tests this many commits.")
  var parallel = 1

  @Flag(help: "Print one JSON object instead of text.")
  var json = false

  func validate() throws {
    guard parallel >= 1 else { throw ValidationError("--parallel must be 1 or more, not \(parallel).") }
  }

  func run() throws {
    let (repository, _, _, graph) = try range.load()
    let bases = try repository.mergeBasesToCheck(in: graph)
    let bisection = Bisection(graph: graph, mergeBases: bases)
    let first: [ObjectID]
    var conclusion: Conclusion?
    switch bisection.nextRound(count: parallel) {
    case .test(let commits): first = commits
    case .concluded(let end):
      first = []
      conclusion = end
    }
    let rounds = bisection.estimatedRounds(parallel: parallel)
    var infos = [CommitInfo]()
    for id in first { infos.append(try repository.commit(id)) }
    if json {
      struct Entry: Encodable {
        var id: String
        var summary: String
        var reach: Int?
      }
      struct Output: Encodable {
        var candidates: Int
        var parallel: Int
        var estimatedRounds: Int
        var mergeBasesToCheck: [String]
        var firstRound: [Entry]
        var conclusion: String?
      }
      let output = Output(
        candidates: bisection.remainingCount, parallel: parallel, estimatedRounds: rounds,
        mergeBasesToCheck: bisection.uncheckedMergeBases.map(\.hex),
        firstRound: infos.map { Entry(id: $0.id.hex, summary: $0.summary, reach: bisection.reach(of: $0.id)) },
        conclusion: conclusion.map(\.token))
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
      writeJSON(String(decoding: try encoder.encode(output), as: UTF8.self))
      return
    }
    print("\(bisection.remainingCount) candidate commits")
    let unit = parallel == 1 ? "steps" : "rounds of \(parallel)"
    print(
      "about \(rounds) \(unit) (ceil(log\(parallel == 1 ? "2" : "_\(parallel + 1)") N)\(bases.isEmpty ? "" : " + merge bases"))"
    )
    if let conclusion { print("nothing to test: \(conclusion.explanation)") }
    for info in infos {
      let reach = bisection.reach(of: info.id).map { " (reach \($0))" } ?? " (merge base, checked first)"
      print("first: \(info.id.hex) \(info.summary)\(reach)")
    }
  }
}
