import History

/// A set of commit numbers of one `CommitGraph`, one bit per commit in 64-bit words.
///
/// Iteration is always in ascending commit number (children before parents), so nothing that
/// depends on it can vary between runs.
package struct CommitSet: Sendable, Hashable {
  private(set) var words: [UInt64]
  /// One more than the largest number the set can hold.
  package let capacity: Int

  /// An empty set, or the full one, over `0..<capacity`.
  package init(capacity: Int, full: Bool = false) {
    self.capacity = capacity
    let wordCount = (capacity + 63) >> 6
    words = [UInt64](repeating: full ? ~0 : 0, count: wordCount)
    if full, capacity & 63 != 0 {
      words[wordCount - 1] = (1 << UInt64(capacity & 63)) - 1
    }
  }

  /// The set of commits whose flag is true.
  package init(flags: [Bool]) {
    self.init(capacity: flags.count)
    for (number, flag) in flags.enumerated() where flag { insert(number) }
  }

  package func contains(_ number: Int) -> Bool {
    words[number >> 6] & (1 << UInt64(number & 63)) != 0
  }

  package mutating func insert(_ number: Int) {
    words[number >> 6] |= 1 << UInt64(number & 63)
  }

  package mutating func remove(_ number: Int) {
    words[number >> 6] &= ~(1 << UInt64(number & 63))
  }

  package var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

  package var isEmpty: Bool { words.allSatisfy { $0 == 0 } }

  /// The smallest number in the set: in a graph's numbering, a commit with no descendant in it.
  package var first: Int? {
    for (index, word) in words.enumerated() where word != 0 {
      return index << 6 + word.trailingZeroBitCount
    }
    return nil
  }

  package mutating func formIntersection(_ other: CommitSet) {
    for index in words.indices { words[index] &= other.words[index] }
  }

  package mutating func formUnion(_ other: CommitSet) {
    for index in words.indices { words[index] |= other.words[index] }
  }

  package mutating func subtract(_ other: CommitSet) {
    for index in words.indices { words[index] &= ~other.words[index] }
  }

  package func intersection(_ other: CommitSet) -> CommitSet {
    var result = self
    result.formIntersection(other)
    return result
  }

  package func subtracting(_ other: CommitSet) -> CommitSet {
    var result = self
    result.subtract(other)
    return result
  }

  package func intersects(_ other: CommitSet) -> Bool {
    zip(words, other.words).contains { $0 & $1 != 0 }
  }

  /// Calls `body` with each member, largest first (parents before their children).
  package func forEachDescending(_ body: (Int) -> Void) {
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
  package var members: [Int] { Array(self) }
}

extension CommitSet: Sequence {
  /// Walks the members smallest first.
  package struct Iterator: IteratorProtocol {
    private let words: [UInt64]
    private var index = 0
    private var word: UInt64

    init(words: [UInt64]) {
      self.words = words
      word = words.first ?? 0
    }

    package mutating func next() -> Int? {
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

  package func makeIterator() -> Iterator { Iterator(words: words) }

  package var underestimatedCount: Int { count }
}

extension CommitGraph {
  /// `number` and all its ancestors inside the graph, found in one sweep: parents always
  /// have larger numbers than their children, so scanning upward from `number` sees every
  /// marked commit before its parents.
  package func ancestorSet(of number: Int) -> CommitSet {
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
