import BisectEngine
import Dispatch
import Foundation
import History
import Synchronization
import TestSupport
import Testing

/// Our engine beside `git bisect run` on the same seeded histories, the same endpoints and the
/// same predicate ("bad iff the culprit is an ancestor-or-self"): same culprit every time, no
/// more tests on average, no larger sets when commits are skipped.
@Suite struct GitOracleTests {
  /// Totals over many culprits.
  struct Tally: Sendable {
    var runs = 0
    var ourTests = 0
    var gitTests = 0
    var log2Sum = 0.0
    var ourSetSizes = 0
    var gitSetSizes = 0
    var histories = 0
    /// Path-limited runs where git named a commit that has a bad parent (its path-limited
    /// walk missed part of the real ancestry) while we named the culprit.
    var gitMisled = 0
    var problems = [String]()

    mutating func add(_ other: Tally) {
      runs += other.runs
      ourTests += other.ourTests
      gitTests += other.gitTests
      log2Sum += other.log2Sum
      ourSetSizes += other.ourSetSizes
      gitSetSizes += other.gitSetSizes
      histories += other.histories
      gitMisled += other.gitMisled
      problems += other.problems
    }

    var ourMean: Double { Double(ourTests) / Double(max(1, runs)) }
    var gitMean: Double { Double(gitTests) / Double(max(1, runs)) }
    var log2Mean: Double { log2Sum / Double(max(1, runs)) }

    func report(_ label: String) -> String {
      "\(label): \(histories) histories, \(runs) culprits: mean tests ours "
        + String(format: "%.3f, git %.3f, log2 N %.3f", ourMean, gitMean, log2Mean)
        + (ourSetSizes + gitSetSizes > 0 ? "; culprit set sizes ours \(ourSetSizes), git \(gitSetSizes)" : "")
        + (gitMisled > 0 ? "; git named a commit with a bad parent \(gitMisled) times" : "")
    }
  }

  /// One seeded history of the oracle set: 25 linear and 25 merge-heavy, 40 to 300 commits.
  struct Case: Sendable, CustomStringConvertible {
    var shape: HistoryShape
    /// The good endpoint: the annotated tag `v0.1`, or the root commit.
    var goodIsTag: Bool

    var description: String {
      "\(shape.commits) commits, seed \(shape.seed), merge ratio \(shape.mergeRatio)"
        + (shape.dateSkew > 0 ? ", date skew \(shape.dateSkew)" : "")
    }

    static func linear(_ index: Int) -> Case {
      Case(
        shape: HistoryShape(commits: 40 + index * 47 % 261, seed: 100 + index, mergeRatio: 0), goodIsTag: index % 2 == 0
      )
    }

    static func mergeHeavy(_ index: Int) -> Case {
      Case(
        shape: HistoryShape(
          commits: 40 + index * 53 % 261, seed: 200 + index, mergeRatio: 0.2 + 0.025 * Double(index % 5)),
        goodIsTag: index % 2 == 1)
    }

    /// Merge-heavy, with a third of the commits dated off their place: parents newer than
    /// their children, as rebases, cherry-picks and clock skew leave them.
    static func skewed(_ index: Int) -> Case {
      var item = mergeHeavy(index)
      item.shape.seed = 300 + index
      item.shape.dateSkew = 0.3
      return item
    }
  }

  /// Runs `body` on every case, two at a time (the machine has two cores), and sums the tallies.
  static func compare(_ cases: [Case], _ body: @escaping @Sendable (Case, URL) throws -> Tally) -> Tally {
    let total = Mutex(Tally())
    DispatchQueue.concurrentPerform(iterations: cases.count) { index in
      let item = cases[index]
      var tally = Tally()
      do {
        let scratch = try TemporaryDirectory("engine-oracle")
        let repository = try makeHistory(item.shape, in: scratch.url)
        tally = try body(item, repository)
        tally.histories = 1
      } catch {
        tally.problems.append("\(item): \(error)")
      }
      total.withLock { $0.add(tally) }
    }
    return total.withLock { $0 }
  }

  static func goodRevision(_ item: Case, in repository: URL) throws -> String {
    if item.goodIsTag { return "v0.1" }
    return lines(try git(["rev-list", "--max-parents=0", "main"], in: repository))[0]
  }

  /// Our engine beside git on the range `main --not good`, for every candidate as the
  /// culprit: git's side read off its decision tree (`git rev-list --bisect` at each step),
  /// checked against real `git bisect run` sessions for a few culprits.
  static func compareCulprits(
    _ item: Case, in repository: URL, paths: [String] = [], firstParent: Bool = false
  ) throws -> Tally {
    let good = try goodRevision(item, in: repository)
    let full = try loadGraph(repository: repository, bad: "main", goods: [good])
    let graph = try loadGraph(
      repository: repository, bad: "main", goods: [good], paths: paths, firstParent: firstParent)
    // With --first-parent, culprits anywhere in the range (side branches too): the answer is
    // the main-line commit that brought them in.
    let culprits = firstParent ? full.ids : graph.candidateIDs
    let expected = Dictionary(
      uniqueKeysWithValues: culprits.map { culprit in
        (culprit, firstParent ? graph.ids.last { culpritPredicate(culprit, in: full)($0) == .bad }! : culprit)
      })
    var predicates = [ObjectID: (ObjectID) -> Verdict]()
    for culprit in culprits { predicates[culprit] = culpritPredicate(culprit, in: full) }
    var git = [ObjectID: GitPath]()
    if paths.isEmpty {
      git = try gitDecisionTree(
        repository: repository, bad: graph.tip, goods: graph.boundaries,
        options: firstParent ? ["--first-parent"] : [], culprits: culprits
      ) { culprit, tested in predicates[culprit]!(tested) }
    } else {
      // `git bisect` walks path-limited ranges differently from `git rev-list --bisect`
      // (neither plain nor --full-history matches it), so ask it for every culprit.
      for culprit in culprits {
        let run = try gitBisect(
          repository: repository, bad: "main", goods: [good], culprit: culprit, paths: paths)
        if run.culprits.count == 1 { git[culprit] = GitPath(culprit: run.culprits[0], tests: run.tests) }
      }
    }

    var tally = Tally()
    let context = "\(item)\(paths.isEmpty ? "" : " -- \(paths)")\(firstParent ? " --first-parent" : "")"
    for culprit in culprits {
      var bisection = Bisection(graph: graph)
      let ours = drive(&bisection, verdict: predicates[culprit]!)
      guard let theirs = git[culprit] else {
        tally.problems.append("\(context), culprit \(culprit.short()): git named no single commit")
        continue
      }
      // Git's path-limited walk can miss part of the real ancestry and name a commit that has
      // a bad parent; those runs are counted apart, not in the means.
      let misled =
        !paths.isEmpty && theirs.culprit != culprit
        && full.parents(of: full.number(of: theirs.culprit)!).contains {
          predicates[culprit]!(full.ids[$0]) == .bad
        }
      if misled {
        tally.gitMisled += 1
      } else {
        tally.runs += 1
        tally.ourTests += ours.tests
        tally.gitTests += theirs.tests
        tally.log2Sum += log2(Double(graph.candidateCount))
      }
      if ours.conclusion != .culprit(expected[culprit]!) || (theirs.culprit != expected[culprit]! && !misled) {
        tally.problems.append("\(context), culprit \(culprit.short()): ours \(ours.conclusion), git \(theirs.culprit)")
      }
      if ours.tested.contains(where: { !graph.isCandidate[graph.number(of: $0)!] }) {
        tally.problems.append("\(context): tested a commit that may not be blamed")
      }
    }
    if ProcessInfo.processInfo.environment["ORACLE_DETAIL"] != nil {
      print("DETAIL \(context): \(tally.report("history"))")
    }
    // The tree is what `git bisect run` does: same culprit, same number of tests.
    for culprit in paths.isEmpty ? spread(culprits, limit: 3) : [] {
      let run = try gitBisect(
        repository: repository, bad: "main", goods: [good], culprit: culprit, paths: paths,
        firstParent: firstParent)
      if run.culprits != [git[culprit]!.culprit] || run.tests != git[culprit]!.tests {
        tally.problems.append(
          "\(context), culprit \(culprit.short()): git bisect run \(run), tree \(String(describing: git[culprit]))")
      }
    }
    return tally
  }

  static func check(_ tally: Tally, label: String, expectedHistories: Int, comparingMeans: Bool = true) {
    print(tally.report(label))
    #expect(tally.problems.isEmpty, "\(tally.problems.prefix(10))")
    #expect(tally.histories == expectedHistories)
    if comparingMeans { #expect(tally.ourMean <= tally.gitMean, "\(tally.report(label))") }
  }

  @Test func linearHistoriesFindGitsCulpritInNoMoreTests() {
    let tally = Self.compare((0..<25).map(Case.linear)) { try Self.compareCulprits($0, in: $1) }
    Self.check(tally, label: "linear", expectedHistories: 25)
  }

  @Test func mergeHeavyHistoriesFindGitsCulpritInNoMoreTests() {
    let tally = Self.compare((0..<25).map(Case.mergeHeavy)) { try Self.compareCulprits($0, in: $1) }
    Self.check(tally, label: "merge-heavy", expectedHistories: 25)
  }

  @Test func historiesWithParentsNewerThanChildrenFindGitsCulpritInNoMoreTests() {
    let tally = Self.compare((0..<10).map(Case.skewed)) { try Self.compareCulprits($0, in: $1) }
    Self.check(tally, label: "date skew", expectedHistories: 10)
  }

  /// The graph's numbering (children first, newer commit time first) is git's `--date-order`
  /// when no two commits share a time: the sketches' skewed dates are distinct.
  @Test func withParentsNewerThanChildrenTheGraphListsCommitsAsGitDateOrderDoes() throws {
    var random = SeededGenerator(seed: 2017)
    for trial in 0..<12 {
      let count = Int.random(in: 40...240, using: &random)
      var sketch = Sketch.random(count, mergeChance: 0.25, using: &random)
        .skewingDates(share: 0.3, seed: UInt64(trial))
      // The good end: a main-line commit four fifths of the way down from the tip.
      var chain = [sketch.tip]
      while let parent = sketch.parents[chain[chain.count - 1]].first { chain.append(parent) }
      sketch.goods = [chain[chain.count * 4 / 5]]
      let context = "trial \(trial): \(count) commits"
      #expect(sketch.parentsNewerThanChildren > 0, "\(context)")

      let scratch = try TemporaryDirectory("engine-skew")
      let repository = scratch.url.appendingPathComponent("sketch")
      let ids = try writeRepository(sketch, at: repository)
      let graph = try loadGraph(repository: repository, bad: "main", goods: ["good-0"])
      let inRange = Set(graph.ids.map(\.hex))
      // git prints every parent; the graph keeps those inside the range.
      let theirs = lines(try git(["rev-list", "--date-order", "--parents", "main", "--not", "good-0"], in: repository))
        .map { line in
          let fields = line.split(separator: " ").map(String.init)
          return ([fields[0]] + fields.dropFirst().filter(inRange.contains)).joined(separator: " ")
        }
      let ours = graph.ids.indices.map { number in
        ([graph.ids[number]] + graph.parents(of: number).map { graph.ids[$0] }).map(\.hex).joined(separator: " ")
      }
      #expect(ours == theirs, "\(context)")
      // The sketch's own graph, made-up ids and all, is numbered the same way.
      let real = Dictionary(uniqueKeysWithValues: ids.enumerated().map { (commitID($0.offset), $0.element) })
      #expect(sketch.graph.ids.map { real[$0] } == graph.ids, "\(context)")
    }
  }

  @Test func skippedCommitsLeaveNoLargerSetThanGits() {
    let cases = (0..<5).map(Case.linear) + (0..<7).map(Case.mergeHeavy)
    let tally = Self.compare(cases) { item, repository in
      let good = try Self.goodRevision(item, in: repository)
      let graph = try loadGraph(repository: repository, bad: "main", goods: [good])
      var random = SeededGenerator(seed: UInt64(item.shape.seed))
      // About one commit in six cannot be deployed; the tip always can.
      let skipped = Set(graph.ids.filter { $0 != graph.tip && Int.random(in: 0..<6, using: &random) == 0 })
      let skipFile = repository.deletingLastPathComponent().appendingPathComponent("skipped.txt")
      try skipped.map(\.hex).sorted().joined(separator: "\n").appending("\n")
        .write(to: skipFile, atomically: true, encoding: .utf8)
      var tally = Tally()
      for culprit in spread(graph.candidateIDs, limit: 10) {
        var bisection = Bisection(graph: graph)
        let ours = drive(&bisection, verdict: culpritPredicate(culprit, in: graph, skipping: skipped))
        let theirs = try gitBisect(
          repository: repository, bad: "main", goods: [good], culprit: culprit, skipFile: skipFile)
        let ourSet: [ObjectID]
        switch ours.conclusion {
        case .culprit(let found): ourSet = [found]
        case .culpritAmong(let set): ourSet = set
        default: ourSet = []
        }
        tally.runs += 1
        tally.ourTests += ours.tests
        tally.gitTests += theirs.tests
        tally.log2Sum += log2(Double(graph.candidateCount))
        tally.ourSetSizes += ourSet.count
        tally.gitSetSizes += theirs.culprits.count
        if !ourSet.contains(culprit) || !theirs.culprits.contains(culprit)
          || ourSet.count > theirs.culprits.count
        {
          tally.problems.append(
            "\(item), culprit \(culprit.short()): ours \(ourSet.count) \(ours.conclusion), git \(theirs.culprits)")
        }
      }
      return tally
    }
    print(tally.report("with skips"))
    #expect(tally.problems.isEmpty, "\(tally.problems.prefix(10))")
    #expect(tally.histories == 12)
  }

  @Test func firstParentSearchesBlameTheSameMergeAsGit() {
    let tally = Self.compare((0..<8).map(Case.mergeHeavy)) { item, repository in
      try Self.compareCulprits(item, in: repository, firstParent: true)
    }
    Self.check(tally, label: "first parent", expectedHistories: 8)
  }

  @Test func pathLimitedSearchesBlameTheSameCommitAsGit() {
    let cases = (0..<4).map(Case.linear) + (0..<6).map(Case.mergeHeavy)
    let tally = Self.compare(cases) { item, repository in
      let paths = item.shape.seed % 2 == 0 ? ["hub"] : ["config/prod.yaml", "deploy"]
      return try Self.compareCulprits(item, in: repository, paths: paths)
    }
    Self.check(tally, label: "path-limited", expectedHistories: 10)
  }

  @Test func aGoodThatIsNotAnAncestorMeansTestingTheMergeBaseFirstLikeGit() {
    let cases = (0..<3).map(Case.linear) + (0..<3).map(Case.mergeHeavy)
    let tally = Self.compare(cases) { item, repository in
      let graph = try loadGraph(repository: repository, bad: "main", goods: ["unmerged"])
      let everything = try loadWholeHistory(repository: repository, revisions: ["main", "unmerged"])
      let bases = lines(try git(["merge-base", "--all", "main", "unmerged"], in: repository))
        .compactMap { ObjectID(hex: $0) }
      var tally = Tally()
      // Culprits in the range, and culprits at or below the merge base (bad there means the
      // regression was fixed on the good side).
      let base = bases[0]
      let belowBase = [base] + everything.parents(of: everything.number(of: base)!).map { everything.ids[$0] }
      for culprit in spread(graph.candidateIDs, limit: 6) + belowBase {
        var bisection = Bisection(graph: graph, mergeBases: bases)
        let ours = drive(&bisection, verdict: culpritPredicate(culprit, in: everything))
        let theirs = try gitBisect(repository: repository, bad: "main", goods: ["unmerged"], culprit: culprit)
        tally.runs += 1
        tally.ourTests += ours.tests
        tally.gitTests += theirs.tests
        tally.log2Sum += log2(Double(graph.candidateCount))
        let expectFixed = belowBase.contains(culprit)
        let agrees =
          expectFixed
          ? (ours.conclusion == .fixedBetween(mergeBase: base, goods: graph.boundaries) && theirs.mergeBaseIsBad)
          : (ours.conclusion == .culprit(culprit) && theirs.culprits == [culprit] && ours.tested.first == base)
        if !agrees {
          tally.problems.append("\(item), culprit \(culprit.short()): ours \(ours.conclusion), git \(theirs)")
        }
      }
      return tally
    }
    // A sample of culprits per history: the means are shown, not compared.
    Self.check(tally, label: "merge base", expectedHistories: 6, comparingMeans: false)
  }
}
