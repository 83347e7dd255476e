import Clibgit2
import History

/// How many commits a walk read from each source: the tests check that a commit-graph is
/// really used, and the benchmarks show it.
package struct CommitReads: Sendable, Equatable {
  package var fromGraph = 0
  package var fromDatabase = 0

  package init() {}
}

/// Where the walks read commits: git's commit-graph for the commits it covers, the object
/// database for the others (commits made after the graph was written, or every commit when
/// there is no usable graph). Numbers the commits as the walk meets them, so that the walks
/// keep their flags in arrays; a parent found through the graph is a position, and its node is
/// found through an array rather than by hashing its id.
struct CommitSource {
  let database: ObjectDatabase
  let graph: CommitGraphFile?
  /// The id of each node.
  private(set) var ids: [ObjectID] = []
  /// Nodes of commits the graph does not cover.
  private var numbers: [ObjectID: Int32] = [:]
  /// For each graph position, its node or -1; for each node, its graph position or -1.
  private var nodeAtPosition: [Int32]
  private var positionOfNode: [Int32] = []
  private(set) var reads = CommitReads()
  /// Whether `read` gives each commit's root tree; a walk without paths never looks at it.
  var readsTrees = true
  /// Whether `read` keeps each commit's parent count and, for a commit it reads from the
  /// object database, its summary, so that listing the range does not read it again.
  var keepsSummaries = false
  /// The parents of the commit being read from the object database; kept to reuse its memory.
  private var parentScratch: [ObjectID] = []
  /// With `keepsSummaries`: the summaries read, one after another, and per node where its
  /// summary is (`count` -1: not read), its parent count and its `encoding` header.
  private var summaryBytes: [UInt8] = []
  private var kept: [Kept] = []
  private var encodings: [Int32: String] = [:]

  private struct Kept {
    var start = 0
    var count: Int32 = -1
    var parents: Int32 = 0
  }

  init(_ repository: Repository) throws(GitError) {
    database = try ObjectDatabase(repository)
    graph = repository.usableCommitGraph()
    nodeAtPosition = [Int32](repeating: -1, count: graph?.count ?? 0)
  }

  /// How many nodes exist.
  var count: Int { ids.count }

  /// The node of `id`, made without reading the commit.
  mutating func node(for id: ObjectID) -> Int32 {
    if let graph, let position = graph.position(of: id) { return node(atPosition: position, in: graph) }
    if let number = numbers[id] { return number }
    let number = Int32(ids.count)
    ids.append(id)
    positionOfNode.append(-1)
    numbers[id] = number
    return number
  }

  @inline(__always)
  private mutating func node(atPosition position: Int32, in graph: CommitGraphFile) -> Int32 {
    let existing = nodeAtPosition[Int(position)]
    if existing >= 0 { return existing }
    let number = Int32(ids.count)
    ids.append(graph.id(at: position))
    positionOfNode.append(position)
    nodeAtPosition[Int(position)] = number
    return number
  }

  /// Reads commit `number`: its committer time and root tree; its parents' nodes are
  /// appended to `parents`, in order.
  ///
  /// - Throws: `missingObject` when a commit the graph does not cover cannot be read.
  mutating func read(_ number: Int32, parents: inout [Int32]) throws(GitError) -> (time: Int64, tree: ObjectID?) {
    let position = positionOfNode[Int(number)]
    if let graph, position >= 0 {
      reads.fromGraph += 1
      let start = parents.count
      graph.appendParents(at: position, to: &parents)
      for index in start..<parents.count { parents[index] = node(atPosition: parents[index], in: graph) }
      if keepsSummaries { keep(number, parents: parents.count - start) }
      return (graph.commitTime(at: position), readsTrees ? graph.tree(at: position) : nil)
    }
    reads.fromDatabase += 1
    let readTree = readsTrees
    let keepSummary = keepsSummaries
    let summaryStart = summaryBytes.count
    var encoding: String?
    let header = try database.withCommit(ids[Int(number)]) { raw -> ObjectDatabase.Header? in
      parentScratch.removeAll(keepingCapacity: true)
      guard let header = ObjectDatabase.parseHeader(raw, tree: readTree, parents: &parentScratch) else {
        return nil
      }
      if keepSummary { encoding = CommitSummary.append(of: raw, headerEnd: header.headerEnd, to: &summaryBytes) }
      return header
    }
    let start = parents.count
    for parent in parentScratch { parents.append(node(for: parent)) }
    if keepSummary {
      keep(number, parents: parents.count - start)
      kept[Int(number)].start = summaryStart
      kept[Int(number)].count = Int32(summaryBytes.count - summaryStart)
      if let encoding { encodings[number] = encoding }
    }
    return (header.time, header.tree)
  }

  /// Notes the parent count of `number`, with room for every node made so far.
  private mutating func keep(_ number: Int32, parents: Int) {
    if kept.count < ids.count { kept.append(contentsOf: repeatElement(Kept(), count: ids.count - kept.count)) }
    kept[Int(number)].parents = Int32(parents)
  }

  /// How many parents commit `number` has, as read with `keepsSummaries` (all of them, not
  /// only those a walk follows).
  func parentCount(of number: Int32) -> Int { Int(kept[Int(number)].parents) }

  /// The summary of commit `number`, as `Repository.commit(_:)` gives it: kept from `read`,
  /// or read now for a commit `read` took from the commit-graph.
  mutating func summary(of number: Int32) throws(GitError) -> String {
    if Int(number) < kept.count, kept[Int(number)].count >= 0 {
      let entry = kept[Int(number)]
      return summaryBytes.withUnsafeBufferPointer { bytes in
        CommitText(header: encodings[number]).string(
          UnsafeBufferPointer(rebasing: bytes[entry.start..<entry.start + Int(entry.count)]))
      }
    }
    var text = [UInt8]()
    let encoding = try database.withCommit(ids[Int(number)]) { raw -> String?? in
      parentScratch.removeAll(keepingCapacity: true)
      guard let header = ObjectDatabase.parseHeader(raw, tree: false, parents: &parentScratch) else { return nil }
      return .some(CommitSummary.append(of: raw, headerEnd: header.headerEnd, to: &text))
    }
    return text.withUnsafeBufferPointer { CommitText(header: encoding).string($0) }
  }
}

extension Repository {
  /// The commit-graph the walks may use, or nil: none, unreadable or corrupt, turned off
  /// with `core.commitGraph=false`, or a shallow clone (the graph records the real parents
  /// of the boundary commits, which git treats as having none; git turns the graph off there
  /// too).
  func usableCommitGraph() -> CommitGraphFile? {
    // Asked each time: a fetch can make the repository shallow while it is open.
    guard !isShallow else { return nil }
    if let loaded = loadedCommitGraph { return loaded }
    let graph = commitGraphEnabled ? CommitGraphFile.load(objectsDirectory: objectsDirectory, checksums: .beside) : nil
    loadedCommitGraph = .some(graph)
    return graph
  }

  /// The object folder that holds the commit-graph (a worktree shares its main repository's).
  private var objectsDirectory: String {
    (commonDirectory.hasSuffix("/") ? commonDirectory : commonDirectory + "/") + "objects"
  }

  /// Runs `walk`, which may read the commit-graph while its checksums are still being
  /// computed (`CommitGraphFile.Checksums.beside`), and keeps its answer only when they match.
  /// When they do not, the graph is loaded again checking them first (a chain keeps its
  /// layers below a damaged one, or there is none to use) and `walk` runs again: the answer is
  /// the one a graph refused from the start would have given. An error of the first run
  /// counts only when the graph was sound too.
  func withCheckedCommitGraph<Answer>(_ walk: () throws(GitError) -> Answer) throws(GitError) -> Answer {
    let first = Result(catching: walk)
    if commitGraphReloadedAfterBadChecksum() { return try walk() }
    return try first.get()
  }

  /// When the loaded graph's checksums turned out wrong, loads it again, checksums first.
  private func commitGraphReloadedAfterBadChecksum() -> Bool {
    guard case .some(.some(let graph)) = loadedCommitGraph, !graph.checksumsMatch() else { return false }
    loadedCommitGraph = .some(CommitGraphFile.load(objectsDirectory: objectsDirectory, checksums: .first))
    return true
  }

  /// `core.commitGraph`, true unless set false. A configuration libgit2 cannot read turns
  /// the graph off: the object database alone is always right.
  private var commitGraphEnabled: Bool {
    var config: OpaquePointer?
    let opened = git_repository_config_snapshot(&config, handle)
    guard opened == 0, let config else {
      _ = takeLastErrorMessage(code: opened)
      return false
    }
    defer { git_config_free(config) }
    var enabled: Int32 = 1
    let code = git_config_get_bool(&enabled, config, "core.commitGraph")
    if code == GIT_ENOTFOUND.rawValue {
      git_error_clear()
      return true
    }
    guard code == 0 else {
      _ = takeLastErrorMessage(code: code)
      return false
    }
    return enabled != 0
  }
}

/// The walks' queue of commits: newest first, then first queued (git's order for equal
/// dates). A binary heap written for its one element type, so that nothing generic runs per
/// commit.
struct WalkQueue {
  struct Entry {
    var node: Int32
    var time: Int64
    var order: Int
  }

  private var items: [Entry] = []

  var first: Entry? { items.first }

  @inline(__always)
  private static func before(_ left: Entry, _ right: Entry) -> Bool {
    left.time != right.time ? left.time > right.time : left.order < right.order
  }

  mutating func insert(_ node: Int32, time: Int64, order: Int) {
    var child = items.count
    items.append(Entry(node: node, time: time, order: order))
    let entry = items[child]
    while child > 0 {
      let parent = (child - 1) / 2
      guard Self.before(entry, items[parent]) else { break }
      items[child] = items[parent]
      child = parent
    }
    items[child] = entry
  }

  mutating func popFirst() -> Entry? {
    guard let first = items.first else { return nil }
    let last = items.removeLast()
    guard !items.isEmpty else { return first }
    var parent = 0
    let count = items.count
    while true {
      let left = 2 * parent + 1
      guard left < count else { break }
      var best = left
      if left + 1 < count && Self.before(items[left + 1], items[left]) { best = left + 1 }
      guard Self.before(items[best], last) else { break }
      items[parent] = items[best]
      parent = best
    }
    items[parent] = last
    return first
  }
}
