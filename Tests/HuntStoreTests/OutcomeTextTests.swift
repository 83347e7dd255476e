import History
import HuntStore
import Testing

private let culprit = String(repeating: "c", count: 40)
private let merge = String(repeating: "a1", count: 20)
private let runnerUp = String(repeating: "0123456789", count: 4)

@Suite("Stored outcome texts")
struct OutcomeTextTests {
  @Test("a plain culprit has no extra parts")
  func plainCulprit() {
    let outcome = OutcomeText("culprit \(culprit)")
    #expect(outcome.kind == .culprit)
    #expect(outcome.first == "culprit \(culprit)")
    #expect(outcome.commits == [culprit])
    #expect(outcome.descent == nil && outcome.probability == nil && outcome.confirmationHolds == nil)
  }

  @Test("every extra part, in order, is read back")
  func everyPart() throws {
    let outcome = OutcomeText(
      "culprit \(culprit); descend merge \(merge); probability 0.9973 runner-up \(runnerUp) 0.0021 "
        + "(confident, 23 test runs); confirm holds")
    #expect(outcome.kind == .culprit)
    #expect(outcome.first == "culprit \(culprit)")
    #expect(outcome.commits == [culprit])
    #expect(outcome.descent == OutcomeText.Descent(merge: merge, note: nil))
    let probability = try #require(outcome.probability)
    #expect(probability.probability == 0.9973)
    #expect(probability.runnerUp == runnerUp)
    #expect(probability.runnerUpProbability == 0.0021)
    #expect(probability.reason == "confident")
    #expect(probability.testRuns == 23)
    #expect(outcome.confirmationHolds == true)
  }

  @Test("a descent's note may hold parentheses and '; '")
  func descentNote() throws {
    let note =
      "the commits it brought in could not all be deployed on their own (2 skipped); the first bad one is among "
      + "abc1234, def5678"
    let outcome = OutcomeText("culprit \(merge); descend merge \(merge) (\(note)); confirm does-not-hold")
    #expect(outcome.first == "culprit \(merge)")
    #expect(outcome.descent?.merge == merge)
    #expect(outcome.descent?.note == note)
    #expect(outcome.confirmationHolds == false)
    let contradiction = OutcomeText(
      "culprit \(merge); descend merge \(merge) (the verdicts on its commits contradict each other (badFoundGood))")
    #expect(contradiction.descent?.note == "the verdicts on its commits contradict each other (badFoundGood)")
  }

  @Test("the failure-rate model's extras (deploys, rates, endpoint counts) are written and read back")
  func failureRateExtras() throws {
    var written = OutcomeText(first: "culprit \(culprit)")
    written.probability = OutcomeText.Probability(
      probability: 0.9931, runnerUp: runnerUp, runnerUpProbability: 0.004, reason: "confident", testRuns: 61,
      deploys: 17, failsAfter: 0.48, failsBefore: 0.02, badEnd: RunTally(fails: 5, runs: 11),
      goodEnd: RunTally(fails: 0, runs: 6))
    #expect(
      written.text
        == "culprit \(culprit); probability 0.9931 runner-up \(runnerUp) 0.0040 (confident, 61 test runs, 17 deploys, fails 0.4800 after 0.0200 before, bad 5/11 good 0/6)"
    )
    let read = try #require(OutcomeText(written.text).probability)
    #expect(read == written.probability)
    #expect(read.badEnd?.fails == 5 && read.badEnd?.runs == 11 && read.goodEnd?.runs == 6)

    let none = OutcomeText(
      "no-regression; probability 0.9912 (no-regression, 30 test runs, 2 deploys, bad 0/18 good 0/12)")
    #expect(none.kind == .noRegression)
    #expect(none.probability?.reason == "no-regression" && none.probability?.badEnd?.runs == 18)
    #expect(none.probability?.failsAfter == nil)
    // An extra that is not one of these forms keeps the part as text, not a half-read probability.
    #expect(OutcomeText("culprit \(culprit); probability 0.9 (confident, 3 test runs, 2 apples)").probability == nil)
    #expect(
      OutcomeText("culprit \(culprit); probability 0.9 (confident, 3 test runs, bad 4/3 good 0/1)").probability == nil)
  }

  @Test("a probability without a runner-up, and a probabilistic culprit-among")
  func probability() throws {
    let alone = OutcomeText("culprit \(culprit); probability 0.9500 (budget-spent, 40 test runs)")
    #expect(alone.probability?.probability == 0.95)
    #expect(alone.probability?.runnerUp == nil && alone.probability?.runnerUpProbability == nil)
    #expect(alone.probability?.reason == "budget-spent")
    #expect(alone.probability?.testRuns == 40)

    let among = OutcomeText(
      "culprit-among \(culprit) \(runnerUp); probability 0.6200 runner-up \(runnerUp) 0.3100 "
        + "(nothing-testable, 1 test run)")
    #expect(among.kind == .culpritAmong)
    #expect(among.commits == [culprit, runnerUp])
    #expect(among.first == "culprit-among \(culprit) \(runnerUp)")
    #expect(among.probability?.reason == "nothing-testable")
    #expect(among.probability?.testRuns == 1)
  }

  @Test(
    "free text in the first part stays there, '; ' included",
    arguments: [
      ("aborted: a; b", OutcomeText.Kind.aborted),
      ("aborted: the deploy asked to stop; see deploy.log; probability high", .aborted),
      ("aborted: a; descend merge nothex", .aborted),
      ("aborted: a; confirm maybe", .aborted),
      ("aborted: a; probability 2.5 (confident, 3 test runs)", .aborted),
      ("contradiction goodFoundBad(commit: abc)", .contradiction),
      ("nothing-to-search emptyRange", .nothingToSearch),
      ("contradiction: 1234567 is good (or an ancestor of good) but tested bad", .contradiction),
      ("nothing-to-search: bad is good or one of its ancestors: nothing to search", .nothingToSearch),
      ("no-regression", .noRegression),
      ("reset", .stopped),
      ("stopped signal(2)", .stopped),
      ("unfinished", .stopped),
      ("", .stopped),
    ])
  func freeText(text: String, kind: OutcomeText.Kind) {
    let outcome = OutcomeText(text)
    #expect(outcome.kind == kind)
    #expect(outcome.first == text)
    #expect(outcome.commits.isEmpty)
    #expect(outcome.descent == nil && outcome.probability == nil && outcome.confirmationHolds == nil)
  }

  @Test("a revert proof is the last part, read back with its commit or its files")
  func revertProof() throws {
    let passes = OutcomeText("culprit \(culprit); confirm holds; revert passes \(runnerUp)")
    #expect(passes.confirmationHolds == true)
    #expect(passes.revert == OutcomeText.Revert(result: .passes, commit: runnerUp))
    #expect(passes.first == "culprit \(culprit)")
    #expect(OutcomeText("culprit \(culprit); revert still-fails \(runnerUp)").revert?.result == .stillFails)
    #expect(OutcomeText("culprit \(culprit); revert failed").revert == OutcomeText.Revert(result: .failed))

    // Paths with spaces, "; ", "%" and non-ASCII letters survive as one word each.
    var stored = OutcomeText(first: "culprit \(culprit)")
    let files = ["config/hub values.yaml", "a; b", "100%.txt", "données/é.txt"]
    stored.revert = OutcomeText.Revert(result: .conflicts, files: files)
    #expect(!stored.text.contains("a; b"))
    let read = OutcomeText(stored.text)
    #expect(read.revert?.files == files)
    #expect(read.first == "culprit \(culprit)")
  }

  @Test(
    "a part that is not exactly a revert proof stays in the text before it",
    arguments: [
      "aborted: a; revert passes", "aborted: a; revert passes nothex",
      "aborted: a; revert maybe \(String(repeating: "c", count: 40))",
      "aborted: a; revert conflicts", "aborted: a; revert conflicts a%2", "aborted: a; revert conflicts a%2a",
      "aborted: a; revert failed now", "aborted: a; revert conflicts %FF",
    ])
  func notARevert(text: String) {
    let outcome = OutcomeText(text)
    #expect(outcome.revert == nil)
    #expect(outcome.first == text)
  }

  @Test("extra parts after a free-text first part are still read")
  func extrasAfterFreeText() {
    let outcome = OutcomeText("aborted: a; b; probability 0.5000 (budget-spent, 3 test runs)")
    #expect(outcome.kind == .aborted)
    #expect(outcome.first == "aborted: a; b")
    #expect(outcome.probability?.testRuns == 3)
  }
}

/// `--descend-deps`: the dependency parts of a stored outcome.
@Suite struct DependencyOutcomeTests {
  static let inner = String(repeating: "4", count: 40)

  @Test("every kind of dependency part is written and read back, between descent and probability")
  func roundTrips() throws {
    var outcome = OutcomeText(first: "culprit \(culprit)")
    outcome.descent = OutcomeText.Descent(merge: merge, note: "a; b (c)")
    outcome.dependencies = [
      .init(
        name: "kubespawner", old: "dc41368", new: "a8d943b",
        result: .culprit(commit: Self.inner, version: nil, merge: merge, note: nil)),
      .init(
        name: "hub.chart", old: "0.2.0", new: "0.10.0",
        result: .culprit(
          commit: Self.inner, version: "0.5.0-rc1", merge: nil, note: "probability 0.9912 (confident, 9 test runs)")),
      .init(name: "z2jh", old: "main", new: "v 1;2%", result: .notDescended("main is a branch; it moves (100%)")),
      .init(name: "image", old: nil, new: "-", result: .inconclusive("the culprit adds this pin\nand more")),
      .init(name: "tf", old: "v1", new: "v2", result: .notTheCause("with only this pin bumped, the culprit passes")),
      .init(name: "ks", old: "a", new: "b", result: .merge(merge, note: "every commit it brought in tested good")),
    ]
    outcome.probability = OutcomeText.Probability(probability: 0.5, reason: "confident", testRuns: 3)
    outcome.confirmationHolds = true
    let text = outcome.text
    #expect(!text.contains("\n"))
    let read = OutcomeText(text)
    #expect(read == outcome, "\(text)")
    #expect(read.descent?.note == "a; b (c)")
    #expect(text.contains("; dependency kubespawner dc41368 a8d943b culprit \(Self.inner) merge \(merge); "))
    #expect(text.contains("dependency z2jh main v%201%3B2%25 not-descended (main is a branch%3B it moves (100%25))"))
    #expect(text.contains("dependency image - %2D inconclusive"))
  }

  @Test("random revisions and notes (any text: '; ', '%', parentheses, controls, combining marks) read back as written")
  func randomRoundTrips() {
    // SplitMix64 with a fixed seed: the same cases on every run; a failure names its case.
    var state: UInt64 = 20
    func next() -> UInt64 {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    let pieces = [
      "a", "0", "; ", ";", "%", "%2", "(", ")", " (", " ", "-", "\n", "\u{1B}", "\u{301}", "é", "v1.2", "+", "/",
    ]
    func text(_ count: Int) -> String { (0..<count).map { _ in pieces[Int(next() % UInt64(pieces.count))] }.joined() }
    for index in 0..<2000 {
      let note = text(1 + Int(next() % 6))
      let results: [OutcomeText.Dependency.Result] = [
        .culprit(
          commit: culprit, version: next() % 2 == 0 ? nil : "1" + text(2), merge: next() % 2 == 0 ? nil : merge,
          note: next() % 2 == 0 ? nil : note),
        .merge(merge, note: note), .notTheCause(note), .notDescended(note), .inconclusive(note),
      ]
      let dependency = OutcomeText.Dependency(
        name: "dep-\(index)", old: next() % 3 == 0 ? nil : text(Int(next() % 4)), new: text(Int(next() % 4)),
        result: results[Int(next() % 5)])
      var outcome = OutcomeText(first: "culprit \(culprit)")
      outcome.dependencies = [dependency]
      let read = OutcomeText(outcome.text)
      #expect(read.dependencies == [dependency], "case \(index): \(outcome.text)")
      #expect(read.first == outcome.first, "case \(index)")
    }
  }

  @Test(
    "a part that is not exactly a dependency part stays in the text before it",
    arguments: [
      "dependency kubespawner a b culprit nothex", "dependency ks a b not-the-cause",
      "dependency ks a b not-the-cause ()",
      "dependency k/s a b inconclusive (x)", "dependency ks a(b c inconclusive (x)", "dependency ks a b found (x)",
      "dependency ks a b merge \(String(repeating: "a", count: 40))", "dependency ks a b inconclusive (x) y",
      "dependency ks a%zz b inconclusive (x)", "dependency ks a b culprit \(String(repeating: "a", count: 40)) merge",
      "dependency ks  a b inconclusive (x)", "dependency ks a b inconclusive (%FF)",
    ])
  func strict(part: String) {
    let outcome = OutcomeText("culprit \(culprit); \(part)")
    #expect(outcome.dependencies.isEmpty)
    #expect(outcome.first == "culprit \(culprit); \(part)")
  }
}

/// Inputs the fuzzer (Benchmarks/fuzz) found crashing the reader: kept as tests.
@Suite struct OutcomeTextFuzzFindings {
  @Test("a probability part whose only ' (' is inside its prefix is free text, not a crash")
  func probabilityPrefix() {
    let outcome = OutcomeText("x; probability (a, 1 test runs)")
    #expect(outcome.probability == nil)
    #expect(outcome.first == "x; probability (a, 1 test runs)")
  }
}
