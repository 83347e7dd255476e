import Clibgit2
import Foundation
import History

extension Repository {
  /// The commit graph of a range: `bad` and its ancestors that are ancestors of none of
  /// `goods`, with their parent edges, as `git rev-list <bad> --not <goods>` lists them.
  ///
  /// - Parameters:
  ///   - firstParent: follow only first parents, as `git rev-list --first-parent`.
  ///   - paths: path limits, as `git rev-list ... -- <paths>`: git's default history
  ///     simplification decides which commits are walked, and only the commits that change the
  ///     paths are candidates (`CommitGraph.isCandidate`); the others stay in the graph so that
  ///     ancestry is kept.
  /// - Throws: `shallowHistory` when the range runs into the cut-off history of a shallow
  ///   clone, `missingObject` when a commit cannot be read.
  public func commitGraph(
    bad: ObjectID, goods: [ObjectID], paths: [String] = [], firstParent: Bool = false
  ) throws(GitError) -> CommitGraph {
    try commitGraphCountingReads(bad: bad, goods: goods, paths: paths, firstParent: firstParent).graph
  }

  /// How many commits `commitGraph` would hold as candidates (`git rev-list --count`), and
  /// what the walk learned of the goods' ancestry, without building the graph.
  public func rangeCount(
    bad: ObjectID, goods: [ObjectID], paths: [String] = [], firstParent: Bool = false
  ) throws(GitError) -> RangeCount {
    try withCheckedCommitGraph { () throws(GitError) in
      var walk = try rangeWalk(paths: paths, firstParent: firstParent)
      return try walk.count(bad: bad, goods: goods)
    }
  }

  /// `commitGraph`, with the summary and parent count of each candidate (as `commit(_:)`
  /// gives them), for listing the range. A commit the walk read from the object database is
  /// not read again for its summary, as `git rev-list --format=%s` reads it once.
  public func rangeListing(
    bad: ObjectID, goods: [ObjectID], paths: [String] = [], firstParent: Bool = false
  ) throws(GitError) -> RangeListing {
    try withCheckedCommitGraph { () throws(GitError) in
      var walk = try rangeWalk(paths: paths, firstParent: firstParent)
      return try walk.listing(bad: bad, goods: goods)
    }
  }

  /// `commitGraph`, with how many commits were read from git's commit-graph and how many from
  /// the object database (for tests and benchmarks).
  package func commitGraphCountingReads(
    bad: ObjectID, goods: [ObjectID], paths: [String] = [], firstParent: Bool = false
  ) throws(GitError) -> (graph: CommitGraph, reads: CommitReads) {
    try withCheckedCommitGraph { () throws(GitError) in
      var walk = try rangeWalk(paths: paths, firstParent: firstParent)
      let graph = try walk.run(bad: bad, goods: goods)
      return (graph, walk.source.reads)
    }
  }

  private func rangeWalk(paths: [String], firstParent: Bool) throws(GitError) -> RangeWalk {
    RangeWalk(
      source: try CommitSource(self), repository: self, pathLimits: try PathLimits.make(paths, repository: self),
      firstParent: firstParent, shallow: isShallow ? shallowBoundaries() : [])
  }
}

/// The size of a range, as `Repository.rangeCount` found it.
public struct RangeCount: Sendable, Hashable {
  /// The commit the range ends at (the `bad` side).
  public let tip: ObjectID
  /// The commits whose ancestors are left out (the `good` side).
  public let boundaries: [ObjectID]
  /// The commits that may be blamed: all of the range without paths, else those that change them.
  public let count: Int
  /// As `CommitGraph.boundaryAncestry`.
  public let boundaryAncestry: [ObjectID: Bool]
}

/// A range with what a listing of it shows, as `Repository.rangeListing` read it.
public struct RangeListing: Sendable {
  /// One candidate commit of the range.
  public struct Commit: Sendable, Hashable {
    public let id: ObjectID
    /// As `CommitInfo.summary`.
    public let summary: String
    /// All of its parents, also those a first-parent walk does not follow.
    public let parentCount: Int
  }

  public let graph: CommitGraph
  /// The candidates (`graph.isCandidate`), in the order `git rev-list` lists them (not the
  /// graph's numbering).
  public let commits: [Commit]
}

/// An owned `git_odb` handle, for reading commits without parsing what we don't need.
final class ObjectDatabase {
  let handle: OpaquePointer
  let repository: Repository

  init(_ repository: Repository) throws(GitError) {
    var odb: OpaquePointer?
    try check(git_repository_odb(&odb, repository.handle), "open the object database")
    guard let odb else {
      throw .libgit2(operation: "open the object database", code: -1, message: "no database")
    }
    self.handle = odb
    self.repository = repository
  }

  deinit { git_odb_free(handle) }

  /// Reads commit `id` and hands its raw object to `body`, which gives nil for a commit it
  /// cannot parse. The bytes live only during `body`.
  ///
  /// - Throws: `missingObject` when there is no object `id`; an error naming the commit when
  ///   it is not a commit or `body` gives nil.
  func withCommit<Result>(
    _ id: ObjectID, _ body: (UnsafeRawBufferPointer) -> Result?
  ) throws(GitError) -> Result {
    var oid = id.oid
    var object: OpaquePointer?
    try check(git_odb_read(&object, handle, &oid), "read commit \(id.hex)") { code, _ in
      code == GIT_ENOTFOUND.rawValue ? .missingObject(id.hex) : nil
    }
    guard let object else { throw .missingObject(id.hex) }
    defer { git_odb_object_free(object) }
    guard git_odb_object_type(object) == GIT_OBJECT_COMMIT, let data = git_odb_object_data(object)
    else {
      throw .libgit2(operation: "read commit \(id.hex)", code: -1, message: "object is not a commit")
    }
    guard let result = body(UnsafeRawBufferPointer(start: data, count: git_odb_object_size(object))) else {
      throw .libgit2(operation: "parse commit \(id.hex)", code: -1, message: "malformed commit header")
    }
    return result
  }

  typealias Header = (tree: ObjectID?, time: Int64, headerEnd: Int)

  /// Reads `tree` (its id only when `tree` is true), `parent` (appended to `parents`) and
  /// `committer` lines; stops after the committer line, or at the blank line before the
  /// message. `headerEnd` is where it stopped.
  static func parseHeader(
    _ raw: UnsafeRawBufferPointer, tree readTree: Bool = true, parents: inout [ObjectID]
  ) -> Header? {
    let newline = UInt8(ascii: "\n")
    guard raw.count >= 46, Self.has("tree ", in: raw, at: 0), raw[45] == newline else { return nil }
    var tree: ObjectID?
    if readTree {
      guard let id = ObjectID.parseHex(raw, at: 5) else { return nil }
      tree = id
    }
    var position = 46
    while position + 48 <= raw.count, Self.has("parent ", in: raw, at: position) {
      guard let parent = ObjectID.parseHex(raw, at: position + 7), raw[position + 47] == newline else { return nil }
      parents.append(parent)
      position += 48
    }
    var time: Int64 = 0
    while position < raw.count, raw[position] != newline {
      let end = Self.lineEnd(in: raw, from: position)
      if Self.has("committer ", in: raw, at: position) {
        // "committer Name <email> 1490000000 +0000": the number after the last '>'.
        var cursor = end - 1
        while cursor > position, raw[cursor] != UInt8(ascii: ">") { cursor -= 1 }
        cursor += 1
        while cursor < end, raw[cursor] == UInt8(ascii: " ") { cursor += 1 }
        while cursor < end, let digit = Optional(raw[cursor]), digit >= 48, digit <= 57 {
          time = time * 10 + Int64(digit - 48)
          cursor += 1
        }
        position = min(end + 1, raw.count)
        break
      }
      position = end + 1
    }
    return (tree, time, min(position, raw.count))
  }

  /// Whether `raw` holds `literal` at `offset` (one `memcmp`: the generic slice comparisons
  /// cost a tenth of a walk's own instructions under callgrind).
  @inline(__always)
  static func has(_ literal: StaticString, in raw: UnsafeRawBufferPointer, at offset: Int) -> Bool {
    let count = literal.utf8CodeUnitCount
    return offset + count <= raw.count && memcmp(raw.baseAddress! + offset, literal.utf8Start, count) == 0
  }

  /// Where the line starting at `start` ends: its newline, or the end of `raw`.
  @inline(__always)
  static func lineEnd(in raw: UnsafeRawBufferPointer, from start: Int) -> Int {
    guard start < raw.count, let found = memchr(raw.baseAddress! + start, 0x0A, raw.count - start) else {
      return raw.count
    }
    return raw.baseAddress!.distance(to: UnsafeRawPointer(found))
  }
}

/// The walk behind `commitGraph`: the same algorithm as git's limited revision walk, so that
/// the same commits come out, path simplification included.
///
/// Commits are popped newest first; an uninteresting commit passes the mark to its parents;
/// the walk ends when no interesting commit is waiting and a few more (git's "slop", for
/// clocks that went backwards) have been looked at.
struct RangeWalk {
  private struct Node {
    var time: Int64 = 0
    var tree: ObjectID? = nil
    /// Parents as node numbers, `parentStore[parentStart..<parentStart + parentCount]`, once
    /// the commit is read (the count is -1 before); after an interesting commit is processed,
    /// only the parents the walk follows (simplified, or first parent only). One shared array
    /// rather than one per commit: allocating them cost a tenth of a large walk.
    var parentStart: Int32 = 0
    var parentCount: Int32 = -1
    var uninteresting = false
    var seen = false
    var treeSame = false
    var boundary = false
    var queued = false
  }

  private static let slop = 5

  private(set) var source: CommitSource
  let repository: Repository
  let pathLimits: PathLimits?
  let firstParent: Bool
  let shallow: Set<ObjectID>

  /// Flags of each node that `source` numbered.
  private var nodes: [Node] = []
  private var parentStore: [Int32] = []
  /// Scratch stack of `markParentsUninteresting`, kept to reuse its memory.
  private var pending: [Int32] = []
  private var sequence = 0
  /// Commits waiting, newest first, then first queued (git's order for equal dates).
  private var queue = WalkQueue()
  /// How many queued commits are still interesting; kept exact as marks spread.
  private var interestingQueued = 0

  init(
    source: CommitSource, repository: Repository, pathLimits: PathLimits?, firstParent: Bool,
    shallow: Set<ObjectID>
  ) {
    self.source = source
    self.repository = repository
    self.pathLimits = pathLimits
    self.firstParent = firstParent
    self.shallow = shallow
    self.source.readsTrees = pathLimits != nil
  }

  /// The range's commits as the walk found them: node numbers in walk order, and what the
  /// walk learned of the goods' ancestry.
  struct Found {
    var kept: [Int32]
    var boundaryAncestry: [ObjectID: Bool]
  }

  mutating func run(bad: ObjectID, goods: [ObjectID]) throws(GitError) -> CommitGraph {
    // Two statements: in one, `self` would be read for `graph` before `walk` changed it.
    let found = try walk(bad: bad, goods: goods)
    return graph(of: found, bad: bad, goods: goods)
  }

  mutating func listing(bad: ObjectID, goods: [ObjectID]) throws(GitError) -> RangeListing {
    source.keepsSummaries = true
    let found = try walk(bad: bad, goods: goods)
    let graph = graph(of: found, bad: bad, goods: goods)
    // The walk's order, which is git's; the graph numbers its commits in another order, so
    // each commit is named from its own node, never by its position in the graph.
    var commits = [RangeListing.Commit]()
    commits.reserveCapacity(found.kept.count)
    for number in found.kept where pathLimits == nil || !nodes[Int(number)].treeSame {
      let summary = try source.summary(of: number)
      commits.append(
        .init(id: source.ids[Int(number)], summary: summary, parentCount: source.parentCount(of: number)))
    }
    return RangeListing(graph: graph, commits: commits)
  }

  /// How many commits of the range may be blamed (`git rev-list --count`), without numbering
  /// them into a graph.
  mutating func count(bad: ObjectID, goods: [ObjectID]) throws(GitError) -> RangeCount {
    let found = try walk(bad: bad, goods: goods)
    var candidates = found.kept.count
    if pathLimits != nil {
      candidates = 0
      for number in found.kept where !nodes[Int(number)].treeSame { candidates += 1 }
    }
    return RangeCount(tip: bad, boundaries: goods, count: candidates, boundaryAncestry: found.boundaryAncestry)
  }

  mutating func walk(bad: ObjectID, goods: [ObjectID]) throws(GitError) -> Found {
    let start = try loadedEnd(bad)
    enqueue(start)
    var bottoms = Set<Int32>()
    for good in goods {
      let number = try loadedEnd(good)
      bottoms.insert(number)
      setUninteresting(number)
      markParentsUninteresting(of: number)
      enqueue(number)
    }

    var result = [Int32]()
    var reachedBottoms = Set<Int32>()
    var lastInterestingTime = Int64.max
    var slop = Self.slop
    while let entry = queue.popFirst() {
      let number = entry.node
      nodes[Int(number)].queued = false
      if nodes[Int(number)].uninteresting {
        for index in parentRange(number) {
          let parent = parentStore[index]
          // Flag, read, then pass the mark on to what reading revealed: the parent may have
          // been flagged before it was read, when its own parents were not known yet.
          setUninteresting(parent)
          try load(parent)
          markParentsUninteresting(of: parent)
          enqueue(parent)
        }
        // Go on while an interesting commit waits, or one as new as the last one kept.
        guard let newest = queue.first else { break }
        if interestingQueued > 0 || lastInterestingTime <= newest.time {
          slop = Self.slop
          continue
        }
        slop -= 1
        if slop == 0 { break }
        continue
      }
      interestingQueued -= 1
      // Every interesting commit popped was reached from bad: a good among its parents (all
      // of them, before simplification keeps some) is an ancestor of bad.
      for index in parentRange(number) where bottoms.contains(parentStore[index]) {
        reachedBottoms.insert(parentStore[index])
      }
      try simplify(number, bottoms: bottoms)
      for index in parentRange(number) {
        let parent = parentStore[index]
        try load(parent)
        enqueue(parent)
      }
      lastInterestingTime = nodes[Int(number)].time
      result.append(number)
    }

    // Commits found interesting early may have been reached from a good later on.
    let kept = result.filter { !nodes[Int($0)].uninteresting }
    if let cut = kept.first(where: { nodes[Int($0)].boundary }) {
      throw .shallowHistory(repository: repository.requestedPath, boundary: source.ids[Int(cut)].hex)
    }
    return Found(kept: kept, boundaryAncestry: boundaryAncestry(bad: bad, goods: goods, reached: reachedBottoms))
  }

  /// The kept commits numbered into a `CommitGraph`.
  private func graph(of found: Found, bad: ObjectID, goods: [ObjectID]) -> CommitGraph {
    let kept = found.kept
    // Number the kept commits in walk order and hand them over without another dictionary.
    var keptNumber = [Int32](repeating: -1, count: nodes.count)
    for (index, number) in kept.enumerated() { keptNumber[Int(number)] = Int32(index) }
    var ids = [ObjectID]()
    var times = [Int64]()
    var parentStart = [Int32]()
    var parentList = [Int32]()
    var candidates = [Bool]()
    ids.reserveCapacity(kept.count)
    times.reserveCapacity(kept.count)
    parentStart.reserveCapacity(kept.count + 1)
    candidates.reserveCapacity(kept.count)
    for number in kept {
      let node = nodes[Int(number)]
      ids.append(source.ids[Int(number)])
      times.append(node.time)
      parentStart.append(Int32(parentList.count))
      for index in parentRange(number) { parentList.append(keptNumber[Int(parentStore[index])]) }
      candidates.append(pathLimits == nil || !node.treeSame)
    }
    parentStart.append(Int32(parentList.count))
    return CommitGraph(
      tip: bad, boundaries: goods, ids: ids, commitTimes: times, parentStart: parentStart,
      parentList: parentList, isCandidate: candidates, paths: pathLimits?.paths ?? [],
      isFirstParent: firstParent, boundaryAncestry: found.boundaryAncestry)
  }

  /// What the walk showed of each good's ancestry, so that `git merge-base --is-ancestor`
  /// need not walk the history again. A good found as a parent of a commit reached from bad
  /// is an ancestor. A good not found is known not to be one only when it is the one good
  /// and the walk followed every parent (no paths, not first-parent): then every commit on a
  /// path from bad down to it was interesting, and walked. Otherwise it is left undecided.
  private func boundaryAncestry(bad: ObjectID, goods: [ObjectID], reached: Set<Int32>) -> [ObjectID: Bool] {
    var known = [ObjectID: Bool]()
    for number in reached { known[source.ids[Int(number)]] = true }
    for good in goods where good == bad { known[good] = true }
    let everyParentWalked = pathLimits == nil && !firstParent
    if everyParentWalked, Set(goods).count == 1, let good = goods.first, known[good] == nil {
      known[good] = false
    }
    return known
  }

  /// Queues a commit that was read, once.
  private mutating func enqueue(_ number: Int32) {
    guard !nodes[Int(number)].seen else { return }
    nodes[Int(number)].seen = true
    nodes[Int(number)].queued = true
    if !nodes[Int(number)].uninteresting { interestingQueued += 1 }
    sequence += 1
    queue.insert(number, time: nodes[Int(number)].time, order: sequence)
  }

  /// The node number of an end of the range, read. In a shallow clone, an end that is not
  /// there lies beyond the clone's boundary: that is what the user needs to hear.
  private mutating func loadedEnd(_ id: ObjectID) throws(GitError) -> Int32 {
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

  /// Reads commit `number` once: its time, tree and parents. A shallow clone's boundary
  /// commits are read as having no parents, as git does.
  private mutating func load(_ number: Int32) throws(GitError) {
    guard nodes[Int(number)].parentCount < 0 else { return }
    let start = parentStore.count
    let header = try source.read(number, parents: &parentStore)
    addNodes()
    nodes[Int(number)].time = header.time
    nodes[Int(number)].tree = header.tree
    nodes[Int(number)].parentStart = Int32(start)
    let count = parentStore.count - start
    if !shallow.isEmpty && shallow.contains(source.ids[Int(number)]) && count > 0 {
      nodes[Int(number)].boundary = true
      nodes[Int(number)].parentCount = 0
      return
    }
    nodes[Int(number)].parentCount = Int32(count)
  }

  /// Where the parents of `number` are in `parentStore`; empty while it is not read.
  @inline(__always)
  private func parentRange(_ number: Int32) -> Range<Int> {
    let start = Int(nodes[Int(number)].parentStart)
    return start..<start + max(Int(nodes[Int(number)].parentCount), 0)
  }

  /// Flags one commit uninteresting, keeping the count of interesting queued commits exact.
  private mutating func setUninteresting(_ number: Int32) {
    guard !nodes[Int(number)].uninteresting else { return }
    nodes[Int(number)].uninteresting = true
    if nodes[Int(number)].queued { interestingQueued -= 1 }
  }

  /// Marks the parents of `number` uninteresting and, through the commits already read,
  /// their ancestors.
  private mutating func markParentsUninteresting(of number: Int32) {
    pending.removeAll(keepingCapacity: true)
    for index in parentRange(number) { pending.append(parentStore[index]) }
    while let current = pending.popLast() {
      guard !nodes[Int(current)].uninteresting else { continue }
      setUninteresting(current)
      for index in parentRange(current) { pending.append(parentStore[index]) }
    }
  }

  /// Decides which parents an interesting commit's walk follows and whether it changes the
  /// paths (git's default history simplification); without paths, all parents (or the first).
  private mutating func simplify(_ number: Int32, bottoms: Set<Int32>) throws(GitError) {
    // Following the first parent only: keep one.
    let followedCount = firstParent ? min(nodes[Int(number)].parentCount, 1) : nodes[Int(number)].parentCount
    guard let pathLimits else {
      nodes[Int(number)].parentCount = followedCount
      return
    }
    let parents = Array(parentStore[parentRange(number)])
    guard let tree = nodes[Int(number)].tree else { return }
    if parents.isEmpty {
      nodes[Int(number)].treeSame = try pathLimits.isEmpty(in: tree)
      return
    }
    var relevantParents = 0
    var relevantChange = false
    var irrelevantChange = false
    for (position, parent) in parents.enumerated() {
      // A parent is relevant unless it is uninteresting; the goods themselves stay relevant.
      // Relevance is counted for the second parent even when only the first is compared,
      // as git does: a relevant side branch keeps an irrelevant first parent from making
      // the merge count as a change.
      let relevant = !nodes[Int(parent)].uninteresting || bottoms.contains(parent)
      if relevant { relevantParents += 1 }
      if position == 1 && firstParent { break }
      try load(parent)
      guard let parentTree = nodes[Int(parent)].tree else { continue }
      if try pathLimits.same(parentTree, tree) {
        if !relevant { continue }
        // Same as a relevant parent: follow only that parent, the change came from it.
        parentStore[Int(nodes[Int(number)].parentStart)] = parent
        nodes[Int(number)].parentCount = 1
        nodes[Int(number)].treeSame = true
        return
      }
      if relevant { relevantChange = true } else { irrelevantChange = true }
    }
    nodes[Int(number)].parentCount = followedCount
    nodes[Int(number)].treeSame = !(relevantParents > 0 ? relevantChange : irrelevantChange)
  }
}
