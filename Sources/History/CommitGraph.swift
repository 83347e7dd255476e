/// The commits of a range, `bad` and its ancestors that are not ancestors of any `good`,
/// with their parent edges: a plain value that any module or task may use without libgit2.
///
/// Commits are numbered `0..<count` in a topological order: every commit comes before all
/// of its parents (children first), ties broken by newer commit time, then by id, so the
/// same range always gives the same numbering. When the tip is in the range it is number 0.
public struct CommitGraph: Sendable {
  /// One commit as a loader found it: its id, its parents in order (first parent first), and
  /// its committer time in seconds since 1970.
  public struct Commit: Sendable, Hashable {
    public var id: ObjectID
    public var parents: [ObjectID]
    public var commitTime: Int64

    public init(id: ObjectID, parents: [ObjectID], commitTime: Int64) {
      self.id = id
      self.parents = parents
      self.commitTime = commitTime
    }
  }

  /// The commit the range ends at (the `bad` side).
  public let tip: ObjectID
  /// The commits whose ancestors are left out (the `good` side).
  public let boundaries: [ObjectID]
  /// The path limits the range was made with; empty for none.
  public let paths: [String]
  /// True when only first parents were followed.
  public let isFirstParent: Bool
  /// Ids in topological order, children first.
  public let ids: [ObjectID]
  /// Committer times, by commit number.
  public let commitTimes: [Int64]
  /// What the loader learned of the boundaries' ancestry while it walked: true for a boundary
  /// that is an ancestor of the tip (or the tip itself), false for one it knows is not; a
  /// boundary missing here was not decided, and the repository must be asked.
  public let boundaryAncestry: [ObjectID: Bool]
  /// Whether each commit may be blamed: all true without path limits; with them, true for
  /// the commits that change the paths (those `git rev-list -- <paths>` shows).
  public let isCandidate: [Bool]

  // Parent slots in compressed rows: the parents of commit `i` are
  // `parentSlots[parentStart[i]..<parentStart[i + 1]]`, in git's order, -1 for a parent
  // outside the range. Keeping the outside slots lets `firstParent` stay exact.
  private let parentStart: [Int32]
  private let parentSlots: [Int32]
  private let numberByID: [ObjectID: Int32]

  /// Builds the graph of `commits`, which must all be ancestors of `tip` (or `tip` itself).
  /// Parents not among `commits` are treated as outside the range.
  ///
  /// - Parameter candidates: the commits that may be blamed; nil means all of them.
  public init(
    tip: ObjectID,
    boundaries: [ObjectID],
    commits: [Commit],
    candidates: Set<ObjectID>? = nil,
    paths: [String] = [],
    isFirstParent: Bool = false
  ) {
    var position = [ObjectID: Int32](minimumCapacity: commits.count)
    var unique = [Commit]()
    unique.reserveCapacity(commits.count)
    for commit in commits where position[commit.id] == nil {
      position[commit.id] = Int32(unique.count)
      unique.append(commit)
    }
    var parentStart = [Int32]()
    var parentList = [Int32]()
    parentStart.reserveCapacity(unique.count + 1)
    for commit in unique {
      parentStart.append(Int32(parentList.count))
      for parent in commit.parents { parentList.append(position[parent] ?? -1) }
    }
    parentStart.append(Int32(parentList.count))
    self.init(
      tip: tip, boundaries: boundaries, ids: unique.map(\.id), commitTimes: unique.map(\.commitTime),
      parentStart: parentStart, parentList: parentList,
      isCandidate: unique.map { candidates?.contains($0.id) ?? true },
      paths: paths, isFirstParent: isFirstParent)
  }

  /// Builds the graph from commits already numbered in any order: the parents of input
  /// commit `i` are `parentList[parentStart[i]..<parentStart[i + 1]]`, as input numbers, -1
  /// for a parent outside the range. The fast path for loaders of large histories.
  package init(
    tip: ObjectID,
    boundaries: [ObjectID],
    ids inputIDs: [ObjectID],
    commitTimes inputTimes: [Int64],
    parentStart inputStart: [Int32],
    parentList inputList: [Int32],
    isCandidate inputCandidates: [Bool],
    paths: [String],
    isFirstParent: Bool,
    boundaryAncestry: [ObjectID: Bool] = [:]
  ) {
    let total = inputIDs.count
    // In-range child counts, then Kahn's algorithm with a deterministic heap.
    var childCount = [Int32](repeating: 0, count: total)
    for parent in inputList where parent >= 0 { childCount[Int(parent)] += 1 }
    var ready = Heap<Int32> { left, right in
      let a = inputTimes[Int(left)]
      let b = inputTimes[Int(right)]
      if a != b { return a > b }
      return inputIDs[Int(left)] < inputIDs[Int(right)]
    }
    for offset in 0..<total where childCount[offset] == 0 { ready.insert(Int32(offset)) }
    var order = [Int32]()
    order.reserveCapacity(total)
    while let next = ready.popFirst() {
      order.append(next)
      for slot in Int(inputStart[Int(next)])..<Int(inputStart[Int(next) + 1]) {
        let parent = inputList[slot]
        guard parent >= 0 else { continue }
        childCount[Int(parent)] -= 1
        if childCount[Int(parent)] == 0 { ready.insert(parent) }
      }
    }
    // A cycle cannot occur in git history; if the input had one, its commits are dropped
    // rather than looping forever.
    var rank = [Int32](repeating: -1, count: total)
    for (number, offset) in order.enumerated() { rank[Int(offset)] = Int32(number) }

    var ids = [ObjectID]()
    var times = [Int64]()
    var start = [Int32]()
    var slots = [Int32]()
    var flags = [Bool]()
    var numbers = [ObjectID: Int32](minimumCapacity: order.count)
    ids.reserveCapacity(order.count)
    times.reserveCapacity(order.count)
    start.reserveCapacity(order.count + 1)
    slots.reserveCapacity(inputList.count)
    flags.reserveCapacity(order.count)
    for offset in order {
      let input = Int(offset)
      numbers[inputIDs[input]] = Int32(ids.count)
      ids.append(inputIDs[input])
      times.append(inputTimes[input])
      start.append(Int32(slots.count))
      for slot in Int(inputStart[input])..<Int(inputStart[input + 1]) {
        let parent = inputList[slot]
        slots.append(parent >= 0 ? rank[Int(parent)] : -1)
      }
      flags.append(inputCandidates[input])
    }
    start.append(Int32(slots.count))

    self.tip = tip
    self.boundaries = boundaries
    self.paths = paths
    self.isFirstParent = isFirstParent
    self.ids = ids
    self.commitTimes = times
    self.isCandidate = flags
    self.parentStart = start
    self.parentSlots = slots
    self.numberByID = numbers
    self.boundaryAncestry = boundaryAncestry
  }

  /// The number of commits in the range.
  public var count: Int { ids.count }

  /// The number of commits that may be blamed (all of them without path limits).
  public var candidateCount: Int { isCandidate.lazy.filter { $0 }.count }

  /// The ids of the commits that may be blamed, children first.
  public var candidateIDs: [ObjectID] { ids.indices.filter { isCandidate[$0] }.map { ids[$0] } }

  /// The number of a commit in this graph, or nil when it is outside the range.
  public func number(of id: ObjectID) -> Int? { numberByID[id].map(Int.init) }

  /// The in-range parents of commit `number`, first parent first.
  public func parents(of number: Int) -> [Int] {
    parentSlots[Int(parentStart[number])..<Int(parentStart[number + 1])].compactMap {
      $0 >= 0 ? Int($0) : nil
    }
  }

  /// How many parents commit `number` has in all, inside the range or not.
  public func parentCount(of number: Int) -> Int {
    Int(parentStart[number + 1] - parentStart[number])
  }

  /// The first parent of commit `number` when it lies inside the range.
  public func firstParent(of number: Int) -> Int? {
    let begin = Int(parentStart[number])
    guard begin < Int(parentStart[number + 1]), parentSlots[begin] >= 0 else { return nil }
    return Int(parentSlots[begin])
  }

  /// Calls `body` with each in-range parent of commit `number`, without allocating.
  @inlinable
  public func forEachParent(of number: Int, _ body: (Int) -> Void) {
    for slot in parentSlotRange(of: number) {
      let parent = parentSlot(slot)
      if parent >= 0 { body(parent) }
    }
  }

  @usableFromInline
  func parentSlotRange(of number: Int) -> Range<Int> {
    Int(parentStart[number])..<Int(parentStart[number + 1])
  }

  @usableFromInline
  func parentSlot(_ slot: Int) -> Int { Int(parentSlots[slot]) }

  /// The first-parent history of the range: the tip, its first parent, that one's first
  /// parent, and so on while they stay inside the range (`git rev-list --first-parent`).
  /// Candidate flags carry over.
  public func firstParentChain() -> CommitGraph {
    guard let tipNumber = number(of: tip) else {
      return CommitGraph(tip: tip, boundaries: boundaries, commits: [], paths: paths, isFirstParent: true)
    }
    var chain = [Int]()
    var cursor: Int? = tipNumber
    while let current = cursor {
      chain.append(current)
      cursor = firstParent(of: current)
    }
    var commits = [Commit]()
    commits.reserveCapacity(chain.count)
    for (offset, current) in chain.enumerated() {
      let parent = offset + 1 < chain.count ? [ids[chain[offset + 1]]] : []
      commits.append(Commit(id: ids[current], parents: parent, commitTime: commitTimes[current]))
    }
    let candidates = Set(chain.filter { isCandidate[$0] }.map { ids[$0] })
    return CommitGraph(
      tip: tip, boundaries: boundaries, commits: commits, candidates: candidates, paths: paths,
      isFirstParent: true)
  }
}

/// A binary heap whose first element is the one `ordered` puts before all others. (GitKit's
/// walks use their own `WalkQueue`: this one, generic across modules, was slow there.)
package struct Heap<Element> {
  private var items: [Element] = []
  private let ordered: (Element, Element) -> Bool

  package init(ordered: @escaping (Element, Element) -> Bool) { self.ordered = ordered }

  package var isEmpty: Bool { items.isEmpty }

  /// The element that `popFirst` would return.
  package var first: Element? { items.first }

  package mutating func insert(_ item: Element) {
    items.append(item)
    var child = items.count - 1
    while child > 0 {
      let parent = (child - 1) / 2
      guard ordered(items[child], items[parent]) else { break }
      items.swapAt(child, parent)
      child = parent
    }
  }

  package mutating func popFirst() -> Element? {
    guard !items.isEmpty else { return nil }
    items.swapAt(0, items.count - 1)
    let first = items.removeLast()
    var parent = 0
    while true {
      let left = 2 * parent + 1
      let right = left + 1
      var best = parent
      if left < items.count && ordered(items[left], items[best]) { best = left }
      if right < items.count && ordered(items[right], items[best]) { best = right }
      if best == parent { break }
      items.swapAt(parent, best)
      parent = best
    }
    return first
  }
}
