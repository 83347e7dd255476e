import History
import Testing

/// The one rule behind every "did you mean": unknown commands and configuration keys.
@Suite struct NearestWordTests {
  @Test("a swapped pair of letters is one edit")
  func swapIsOneEdit() {
    #expect(editDistance("tset", "test") == 1)
  }

  @Test(
    "edit distance counts insertions, deletions and substitutions",
    arguments: [
      ("kitten", "sitting", 3), ("", "abc", 3), ("status", "stats", 1), ("bogus", "logs", 2),
    ])
  func distances(left: String, right: String, distance: Int) {
    #expect(editDistance(left, right) == distance)
  }

  @Test(
    "a typo gets the nearest word",
    arguments: [
      ("tset", "test"), ("stats", "status"), ("paralel", "parallel"), ("first_parnet", "first_parent"),
    ])
  func typo(word: String, expected: String) {
    #expect(nearestWord(to: word, among: ["logs", "test", "status", "parallel", "first_parent"]) == expected)
  }

  @Test("a word near none gets no suggestion: bogus is not a typo of logs")
  func nothingNear() {
    #expect(nearestWord(to: "bogus", among: ["logs", "test", "state"]) == nil)
  }
}
