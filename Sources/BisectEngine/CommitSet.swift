import History

/// A set of commit numbers of one `CommitGraph`, one bit per commit in 64-bit words.
///
/// Iteration is always in ascending commit number (children before parents), so nothing that
/// depends on it can vary between runs.
struct CommitSet: Sendable, Hashable {
  private(set) var words: [UInt64]
  /// One more than the largest number the set can hold.
  let capacity: Int

  /// An empty set, or the full one, over `0..<capacity`.
  init(capacity: Int, full: Bool = false) {
    self.capacity = capacity
    let wordCount = (capacity + 63) >> 6
    words = [UInt64](repeating: full ? ~0 : 0, count: wordCount)
    if full, capacity & 63 != 0 {
      words[wordCount - 1] = (1 << UInt64(capacity & 63)) - 1
    }
  }

  /// The set of commits whose flag is true.
  init(flags: [Bool]) {
    self.init(capacity: flags.count)
    for (number, flag) in flags.enumerated() where flag { insert(number) }
  }

  func contains(_ number: Int) -> Bool {
    words[number >> 6] & (1 << UInt64(number & 63)) != 0
  }

  mutating func insert(_ number: Int) {
    words[number >> 6] |= 1 << UInt64(number & 63)
  }

  mutating func remove(_ number: Int) {
    words[number >> 6] &= ~(1 << UInt64(number & 63))
  }

  var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

  var isEmpty: Bool { words.allSatisfy { $0 == 0 } }

  /// The smallest number in the set: in a graph's numbering, a commit with no descendant in it.
  var first: Int? {
    for (index, word) in words.enumerated() where word != 0 {
      return index << 6 + word.trailingZeroBitCount
    }
    return nil
  }

  mutating func formIntersection(_ other: CommitSet) {
    for index in words.indices { words[index] &= other.words[index] }
  }

  mutating func formUnion(_ other: CommitSet) {
    for index in words.indices { words[index] |= other.words[index] }
  }

  mutating func subtract(_ other: CommitSet) {
    for index in words.indices { words[index] &= ~other.words[index] }
  }

  func intersection(_ other: CommitSet) -> CommitSet {
    var result = self
    result.formIntersection(other)
    return result
  }

  func subtracting(_ other: CommitSet) -> CommitSet {
    var result = self
    result.subtract(other)
    return result
  }

  func intersects(_ other: CommitSet) -> Bool {
    zip(words, other.words).contains { $0 & $1 != 0 }
  }

  /// Calls `body` with each member, largest first (parents before their children).
  func forEachDescending(_ body: (Int) -> Void) {
    for index in words.indices.reversed() {
      var word = words[index]
      while word != 0 {
        let bit = 63 - word.leadingZeroBitCount
        body(index << 6 + bit)
        word &= ~(1 << UInt64(bit))
      }
    }
  }

  /// The members in ascending order.
  var members: [Int] { Array(self) }
}

extension CommitSet: Sequence {
  /// Walks the members smallest first.
  struct Iterator: IteratorProtocol {
    private let words: [UInt64]
    private var index = 0
    private var word: UInt64

    init(words: [UInt64]) {
      self.words = words
      word = words.first ?? 0
    }

    mutating func next() -> Int? {
      while word == 0 {
        index += 1
        guard index < words.count else { return nil }
        word = words[index]
      }
      let bit = word.trailingZeroBitCount
      word &= word - 1
      return index << 6 + bit
    }
  }

  func makeIterator() -> Iterator { Iterator(words: words) }

  var underestimatedCount: Int { count }
}

extension CommitGraph {
  /// `number` and all its ancestors inside the graph, found in one sweep: parents always
  /// have larger numbers than their children, so scanning upward from `number` sees every
  /// marked commit before its parents.
  func ancestorSet(of number: Int) -> CommitSet {
    var set = CommitSet(capacity: count)
    set.insert(number)
    var index = number >> 6
    var floor = number & 63
    while index < set.words.count {
      // Re-read the word after each commit: marking parents may set later bits in it.
      while true {
        let pending = set.words[index] & (~0 << UInt64(floor))
        if pending == 0 { break }
        let bit = pending.trailingZeroBitCount
        forEachParent(of: index << 6 + bit) { set.insert($0) }
        if bit == 63 { break }
        floor = bit + 1
      }
      index += 1
      floor = 0
    }
    return set
  }
}
