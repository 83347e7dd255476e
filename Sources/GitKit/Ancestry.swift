import History

extension Repository {
  /// True when `ancestor` is `descendant` itself or one of its ancestors, as
  /// `git merge-base --is-ancestor` answers. In a shallow clone the boundary commits have no
  /// parents, as in git: history that was not fetched does not count.
  ///
  /// - Throws: `shallowHistory` when either commit was not fetched into a shallow clone,
  ///   `missingObject` when a commit cannot be read.
  public func isAncestor(_ ancestor: ObjectID, of descendant: ObjectID) throws(GitError) -> Bool {
    if ancestor == descendant { return true }
    return try withCheckedCommitGraph { () throws(GitError) in
      var walk = try AncestryWalk(self)
      return try walk.isAncestor(ancestor, of: descendant)
    }
  }

  /// The best common ancestors of `first` and `second` (several when the history criss-crosses),
  /// empty when they share no history: `git merge-base --all`. In a shallow clone only the
  /// fetched history counts, as in git.
  ///
  /// - Throws: `shallowHistory` when either commit was not fetched into a shallow clone,
  ///   `missingObject` when a commit cannot be read.
  public func mergeBases(_ first: ObjectID, _ second: ObjectID) throws(GitError) -> [ObjectID] {
    if first == second { return [first] }
    return try withCheckedCommitGraph { () throws(GitError) in try bestCommonAncestors(first, second) }
  }

  private func bestCommonAncestors(_ first: ObjectID, _ second: ObjectID) throws(GitError) -> [ObjectID] {
    var walk = try AncestryWalk(self)
    let candidates = try walk.commonAncestors(first, second)
    guard candidates.count > 1 else { return candidates }
    // A common ancestor of another common ancestor is not a best one (git's remove_redundant).
    var bases = [ObjectID]()
    for candidate in candidates {
      var redundant = false
      for other in candidates where other != candidate {
        if try walk.isAncestor(candidate, of: other) {
          redundant = true
          break
        }
      }
      if !redundant { bases.append(candidate) }
    }
    return bases.sorted()
  }
}

/// git's `paint_down_to_common` over commit headers read from the object database, so that
/// ancestry follows git's rules where libgit2 1.5.1 does not: a shallow clone's boundary
/// commits have no parents (libgit2 would look for the parents and fail).
///
/// Commits are taken newest first. The first commit paints its ancestors with one colour and
/// the second with the other; a commit with both colours is a common ancestor, and its
/// ancestors are stale: the walk ends when every commit waiting is stale. Dates only order
/// the walk; the end does not depend on them, so skewed clocks do not change the answer.
/// Commits read once stay read for the next question asked of the same walk.
struct AncestryWalk {
  private struct Paint: OptionSet {
    let rawValue: UInt8
    static let first = Paint(rawValue: 1)
    static let second = Paint(rawValue: 2)
    static let stale = Paint(rawValue: 4)
    static let result = Paint(rawValue: 8)
    static let both: Paint = [.first, .second]
  }

  private struct Node {
    var time: Int64 = 0
    /// Parents as node numbers, `parentStore[parentStart..<parentStart + parentCount]`; the
    /// count is -1 until the commit is read.
    var parentStart: Int32 = 0
    var parentCount: Int32 = -1
    var paint: Paint = []
    /// How many times the commit waits in the queue (git queues a commit again when it
    /// gains a colour).
    var queued = 0
  }

  private var source: CommitSource
  private let repository: Repository
  private let shallow: Set<ObjectID>
  /// Flags of each node that `source` numbered.
  private var nodes: [Node] = []
  private var parentStore: [Int32] = []

  init(_ repository: Repository) throws(GitError) {
    source = try CommitSource(repository)
    source.readsTrees = false
    self.repository = repository
    shallow = repository.isShallow ? repository.shallowBoundaries() : []
  }

  /// True when `descendant` reaches `ancestor` (git's `in_merge_bases`).
  mutating func isAncestor(_ ancestor: ObjectID, of descendant: ObjectID) throws(GitError) -> Bool {
    let one = try end(ancestor)
    let two = try end(descendant)
    _ = try paint(one, two)
    return nodes[Int(one)].paint.contains(.second)
  }

  /// The common ancestors that are not below another one found by the walk; they may still
  /// include an ancestor of another (git's `merge_bases_many`, before `remove_redundant`).
  mutating func commonAncestors(_ first: ObjectID, _ second: ObjectID) throws(GitError) -> [ObjectID] {
    let one = try end(first)
    let two = try end(second)
    return try paint(one, two).filter { !nodes[Int($0)].paint.contains(.stale) }.map { source.ids[Int($0)] }
  }

  /// Paints from `one` and `two` until only stale commits wait; returns the commits found
  /// with both colours, in the order found.
  private mutating func paint(_ one: Int32, _ two: Int32) throws(GitError) -> [Int32] {
    for index in nodes.indices {
      nodes[index].paint = []
      nodes[index].queued = 0
    }
    var queue = WalkQueue()
    var order = 0
    // Queue entries whose commit is not stale; kept exact as commits turn stale.
    var waiting = 0
    func push(_ number: Int32) {
      order += 1
      queue.insert(number, time: nodes[Int(number)].time, order: order)
      nodes[Int(number)].queued += 1
      if !nodes[Int(number)].paint.contains(.stale) { waiting += 1 }
    }

    nodes[Int(one)].paint.insert(.first)
    push(one)
    nodes[Int(two)].paint.insert(.second)
    push(two)
    var results = [Int32]()
    while waiting > 0, let entry = queue.popFirst() {
      let number = entry.node
      nodes[Int(number)].queued -= 1
      if !nodes[Int(number)].paint.contains(.stale) { waiting -= 1 }
      var paint = nodes[Int(number)].paint.intersection([.first, .second, .stale])
      if paint == .both {
        if !nodes[Int(number)].paint.contains(.result) {
          nodes[Int(number)].paint.insert(.result)
          results.append(number)
        }
        paint.insert(.stale)
      }
      let start = Int(nodes[Int(number)].parentStart)
      for index in start..<start + max(Int(nodes[Int(number)].parentCount), 0) {
        let parent = parentStore[index]
        if nodes[Int(parent)].paint.isSuperset(of: paint) { continue }
        try load(parent)
        if paint.contains(.stale) && !nodes[Int(parent)].paint.contains(.stale) {
          // Its earlier entries stop counting as waiting.
          waiting -= nodes[Int(parent)].queued
        }
        nodes[Int(parent)].paint.formUnion(paint)
        push(parent)
      }
    }
    return results
  }

  /// The node of a commit the caller named, read. In a shallow clone a commit that is not
  /// there lies beyond the clone's boundary.
  private mutating func end(_ id: ObjectID) throws(GitError) -> Int32 {
    let number = node(for: id)
    do {
      try load(number)
    } catch .missingObject(let missing) where !shallow.isEmpty {
      throw .shallowHistory(repository: repository.requestedPath, boundary: missing)
    }
    return number
  }

  /// The node number of `id`, made without reading the commit.
  private mutating func node(for id: ObjectID) -> Int32 {
    let number = source.node(for: id)
    addNodes()
    return number
  }

  /// Gives flags to the nodes `source` made.
  @inline(__always)
  private mutating func addNodes() {
    if nodes.count < source.count { nodes.append(contentsOf: repeatElement(Node(), count: source.count - nodes.count)) }
  }

  /// Reads commit `number` once; a shallow clone's boundary commits are read as having no
  /// parents, as git does.
  private mutating func load(_ number: Int32) throws(GitError) {
    guard nodes[Int(number)].parentCount < 0 else { return }
    let start = parentStore.count
    let header = try source.read(number, parents: &parentStore)
    addNodes()
    nodes[Int(number)].time = header.time
    nodes[Int(number)].parentStart = Int32(start)
    if !shallow.isEmpty && shallow.contains(source.ids[Int(number)]) {
      nodes[Int(number)].parentCount = 0
      return
    }
    nodes[Int(number)].parentCount = Int32(parentStore.count - start)
  }
}
