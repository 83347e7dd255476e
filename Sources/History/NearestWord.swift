/// The word a typo most likely meant, for messages that refuse a word the tool does not know
/// (a command, a configuration key): one rule, so that every "did you mean" agrees.
///
/// The nearest of `candidates` by edit distance, when it is near enough to be a typo: one edit
/// (a swapped pair of letters is one), or one per three letters of longer words. Nil when none
/// is that near (then the message points at the list instead): `bogus` is not a typo of
/// `logs`. Ties go to the candidate listed first.
public func nearestWord(to word: String, among candidates: [String]) -> String? {
  var best: (word: String, distance: Int)?
  for candidate in candidates {
    let distance = editDistance(candidate, word)
    if distance < best?.distance ?? Int.max { best = (candidate, distance) }
  }
  guard let best, best.distance <= max(1, word.count / 3) else { return nil }
  return best.word
}

/// The fewest insertions, deletions, substitutions and swaps of two adjacent characters that
/// turn `left` into `right` (optimal string alignment: `tset` is one edit from `test`).
public func editDistance(_ left: String, _ right: String) -> Int {
  let a = Array(left)
  let b = Array(right)
  guard !a.isEmpty else { return b.count }
  guard !b.isEmpty else { return a.count }
  var beforePrevious = [Int]()
  var previous = Array(0...b.count)
  for i in 1...a.count {
    var current = [i] + Array(repeating: 0, count: b.count)
    for j in 1...b.count {
      current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
      if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
        current[j] = min(current[j], beforePrevious[j - 2] + 1)
      }
    }
    beforePrevious = previous
    previous = current
  }
  return previous[b.count]
}
