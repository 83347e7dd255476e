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

/// Inputs the fuzzer (Benchmarks/fuzz) found crashing the reader: kept as tests.
@Suite struct OutcomeTextFuzzFindings {
  @Test("a probability part whose only ' (' is inside its prefix is free text, not a crash")
  func probabilityPrefix() {
    let outcome = OutcomeText("x; probability (a, 1 test runs)")
    #expect(outcome.probability == nil)
    #expect(outcome.first == "x; probability (a, 1 test runs)")
  }
}
