import Foundation
import GitKit
import History
import TestSupport
import Testing

/// git's commit-graph, read by our own reader: the facts it gives equal git's, the walks that
/// use it give git's answers, and a graph that is stale, split or damaged changes nothing but
/// where the commits are read from.
@Suite struct CommitGraphFileTests {
  /// How the repository's commit-graph is left before the walk.
  enum Layout: String, CaseIterable, CustomTestStringConvertible {
    case none, full, stale, split, splitTopCorrupt, flippedByte, changedDate, truncated, badSignature, turnedOff
    var testDescription: String { rawValue }
  }

  /// A history with merges, an octopus merge (so that the extra-edge chunk is used) and a
  /// side branch, with its work tree checked out on main.
  static func makeRepository(in directory: TemporaryDirectory, seed: Int, commits: Int = 160) throws -> URL {
    let path = try makeHistory(HistoryShape(commits: commits, seed: seed, mergeRatio: 0.25), in: directory.url)
    for branch in ["octo-a", "octo-b", "octo-c"] {
      try git(["checkout", "-q", "-b", branch, "main~4"], in: path)
      try append(branch, to: "hub/\(branch).py", in: path)
      try git(["add", "."], in: path)
      try git(["commit", "-q", "-m", "work on \(branch)"], in: path)
    }
    try git(["checkout", "-q", "main"], in: path)
    try git(["merge", "-q", "--no-ff", "-m", "octopus", "octo-a", "octo-b", "octo-c"], in: path)
    return path
  }

  static func append(_ text: String, to file: String, in path: URL) throws {
    let url = path.appendingPathComponent(file)
    let old = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
    try (old + text + "\n").write(to: url, atomically: true, encoding: .utf8)
  }

  /// Commits made after a graph was written: a few on main and a merged topic.
  static func addCommits(_ label: String, to path: URL) throws {
    for index in 0..<3 {
      try append("\(label) \(index)", to: "config/dev.yaml", in: path)
      try git(["commit", "-q", "-am", "\(label) \(index)"], in: path)
    }
    try git(["checkout", "-q", "-b", "topic-\(label)", "main~2"], in: path)
    try append(label, to: "hub/spawner.py", in: path)
    try git(["commit", "-q", "-am", "topic \(label)"], in: path)
    try git(["checkout", "-q", "main"], in: path)
    try git(["merge", "-q", "--no-ff", "-m", "merge \(label)", "topic-\(label)"], in: path)
  }

  static func graphFile(_ path: URL) -> URL { path.appendingPathComponent(".git/objects/info/commit-graph") }

  /// Damages a file in place: one byte flipped in the middle, a commit date changed (which
  /// only the checksum can tell), cut in half, or a wrong signature.
  static func damage(_ file: URL, _ layout: Layout) throws {
    var data = try Data(contentsOf: file)
    switch layout {
    case .flippedByte: data[data.count / 2] ^= 0x40
    case .changedDate:
      // The chunk table: 12-byte entries after the 8-byte header, the id then the offset.
      var entry = 8
      while data[entry..<entry + 4] != Data("CDAT".utf8) { entry += 12 }
      let offset = data[entry + 4..<entry + 12].reduce(0) { $0 << 8 | Int($1) }
      data[offset + 35] ^= 0x01
    case .truncated: data = data.prefix(data.count / 2)
    default: data[0] = UInt8(ascii: "X")
    }
    try data.write(to: file)
  }

  /// Builds the layout; returns how many commits git's graph was written before (for checks).
  static func prepare(_ layout: Layout, at path: URL) throws {
    switch layout {
    case .none:
      break
    case .full, .flippedByte, .changedDate, .truncated, .badSignature, .turnedOff:
      try git(["commit-graph", "write", "--reachable"], in: path)
      #expect(FileManager.default.fileExists(atPath: graphFile(path).path))
      if layout == .turnedOff {
        try git(["config", "core.commitGraph", "false"], in: path)
      } else if layout != .full {
        try damage(graphFile(path), layout)
      }
    case .stale:
      try git(["commit-graph", "write", "--reachable"], in: path)
      try addCommits("stale", to: path)
    case .split, .splitTopCorrupt:
      try git(["commit-graph", "write", "--reachable", "--split"], in: path)
      try addCommits("second", to: path)
      try git(["commit-graph", "write", "--reachable", "--split=no-merge"], in: path)
      try addCommits("third", to: path)
      try git(["commit-graph", "write", "--reachable", "--split=no-merge"], in: path)
      let chain = path.appendingPathComponent(".git/objects/info/commit-graphs")
      let layers = lines(try String(contentsOf: chain.appendingPathComponent("commit-graph-chain"), encoding: .utf8))
      #expect(layers.count == 3, "git wrote a chain of \(layers.count) layers")
      #expect(!FileManager.default.fileExists(atPath: graphFile(path).path))
      if layout == .splitTopCorrupt, let top = layers.last {
        try damage(chain.appendingPathComponent("graph-\(top).graph"), .flippedByte)
      }
    }
  }

  @Test("the reader gives every commit's parents, committer time and root tree as git does")
  func readerMatchesGit() throws {
    let directory = try TemporaryDirectory()
    let path = try Self.makeRepository(in: directory, seed: 11)
    try git(["commit-graph", "write", "--reachable"], in: path)
    let graph = try #require(CommitGraphFile.load(objectsDirectory: path.appendingPathComponent(".git/objects").path))
    let log = lines(try git(["log", "--all", "--format=%H %T %ct %P"], in: path))
    #expect(graph.count == log.count)
    #expect(graph.layerCount == 1)
    var octopus = false
    for line in log {
      let fields = line.split(separator: " ").map(String.init)
      let id = try #require(ObjectID(hex: fields[0]))
      let position = try #require(graph.position(of: id), "\(fields[0]) not found")
      #expect(graph.id(at: position) == id)
      #expect(graph.tree(at: position).hex == fields[1])
      #expect(graph.commitTime(at: position) == Int64(fields[2]))
      var parents = [Int32]()
      graph.appendParents(at: position, to: &parents)
      #expect(parents.map { graph.id(at: $0).hex } == Array(fields.dropFirst(3)), "parents of \(fields[0])")
      if parents.count > 2 { octopus = true }
    }
    #expect(octopus, "the history has no octopus merge: the extra-edge chunk was not exercised")
    // Ids next to real ones are not found.
    #expect(graph.position(of: ObjectID(hex: String(repeating: "0", count: 40))!) == nil)
    #expect(graph.position(of: ObjectID(hex: String(repeating: "f", count: 40))!) == nil)
  }

  @Test("a graph whose checksum is checked beside the walk is readable at once and found wrong after")
  func checksumsBeside() throws {
    let directory = try TemporaryDirectory()
    let path = try Self.makeRepository(in: directory, seed: 12, commits: 40)
    try git(["commit-graph", "write", "--reachable"], in: path)
    let objects = path.appendingPathComponent(".git/objects").path
    let sound = try #require(CommitGraphFile.load(objectsDirectory: objects, checksums: .beside))
    #expect(sound.checksumsMatch())
    #expect(sound.checksumsMatch(), "asked twice")
    // A changed date passes every check but the checksum: refused at once with `.first`,
    // given with `.beside` and then found wrong.
    try Self.damage(Self.graphFile(path), .changedDate)
    #expect(CommitGraphFile.load(objectsDirectory: objects) == nil)
    let damaged = try #require(CommitGraphFile.load(objectsDirectory: objects, checksums: .beside))
    #expect(damaged.count == sound.count)
    #expect(!damaged.checksumsMatch())
    // A repository walks with it, then sees the checksum and walks again without it.
    let repository = try Repository(at: path.path)
    let main = try repository.resolve("main")
    let (graph, reads) = try repository.commitGraphCountingReads(bad: main, goods: [])
    #expect(reads.fromGraph == 0 && reads.fromDatabase == graph.ids.count, "\(reads)")
    #expect(graph.ids.count == lines(try git(["rev-list", "main"], in: path)).count)
  }

  @Test(
    "ranges, first-parent and path-limited ranges and ancestry equal git's, whatever the graph's state",
    arguments: Layout.allCases)
  func walksMatchGit(layout: Layout) throws {
    let directory = try TemporaryDirectory()
    let path = try Self.makeRepository(in: directory, seed: 20 + Layout.allCases.firstIndex(of: layout)!)
    try Self.prepare(layout, at: path)
    let repository = try Repository(at: path.path)
    // git trusts a damaged graph (it may die on a bad parent position): ask it without one.
    let damaged: Set<Layout> = [.splitTopCorrupt, .flippedByte, .changedDate, .truncated, .badSignature]
    let options = damaged.contains(layout) ? ["-c", "core.commitGraph=false"] : []
    func git(_ arguments: [String], in path: URL) throws -> String {
      try TestSupport.git(options + arguments, in: path)
    }
    let all = lines(try git(["rev-list", "--all"], in: path))
    var random = SplitMix64(seed: 7)
    var total = CommitReads()
    for trial in 0..<6 {
      let bad = trial < 2 ? "main" : all[Int.random(in: 0..<all.count, using: &random)]
      let goods =
        trial == 0 ? [] : (0..<(1 + trial % 2)).map { _ in all[Int.random(in: 0..<all.count, using: &random)] }
      let paths = trial % 3 == 2 ? ["config"] : trial % 3 == 1 ? ["hub/spawner.py"] : []
      let badID = try repository.resolve(bad)
      let goodIDs = try goods.map { try repository.resolve($0) }
      let negated = goods.map { "^" + $0 }
      let context = "\(layout) trial \(trial): \(bad) ^\(goods) -- \(paths)"

      let (graph, reads) = try repository.commitGraphCountingReads(bad: badID, goods: goodIDs, paths: paths)
      total.fromGraph += reads.fromGraph
      total.fromDatabase += reads.fromDatabase
      let expected = lines(try git(["rev-list", bad] + negated + ["--"] + paths, in: path))
      #expect(graph.candidateIDs.map(\.hex).sorted() == expected.sorted(), "\(context)")
      let firstParent = try repository.commitGraph(bad: badID, goods: goodIDs, paths: paths, firstParent: true)
      let expectedFirst = lines(try git(["rev-list", "--first-parent", bad] + negated + ["--"] + paths, in: path))
      #expect(firstParent.candidateIDs.map(\.hex).sorted() == expectedFirst.sorted(), "first-parent \(context)")
      if paths.isEmpty {
        for line in lines(try git(["rev-list", "--parents", bad] + negated, in: path)) {
          let fields = line.split(separator: " ").compactMap { ObjectID(hex: $0) }
          guard let number = graph.number(of: fields[0]) else {
            Issue.record("missing \(fields[0]) in \(context)")
            continue
          }
          #expect(
            graph.parents(of: number).map { graph.ids[$0] } == fields.dropFirst().filter { graph.number(of: $0) != nil }
          )
        }
      }
      if let good = goods.first {
        let goodID = try repository.resolve(good)
        let isAncestor = try runProcess(
          "/usr/bin/env", ["git"] + options + ["merge-base", "--is-ancestor", good, bad], in: path,
          environment: gitEnvironment)
        #expect(try repository.isAncestor(goodID, of: badID) == (isAncestor.status == 0), "\(context)")
        let bases = lines(try git(["merge-base", "--all", good, bad], in: path))
        #expect(try repository.mergeBases(goodID, badID).map(\.hex) == bases.sorted(), "\(context)")
      }
    }

    // Where the commits came from: the graph when it is whole, both when it is stale or its
    // top layer is damaged, the object database alone when there is nothing to trust.
    switch layout {
    case .full, .split:
      #expect(total.fromGraph > 0 && total.fromDatabase == 0, "\(layout): \(total)")
    case .stale, .splitTopCorrupt:
      #expect(total.fromGraph > 0 && total.fromDatabase > 0, "\(layout): \(total)")
    case .none, .flippedByte, .changedDate, .truncated, .badSignature, .turnedOff:
      #expect(total.fromGraph == 0 && total.fromDatabase > 0, "\(layout): \(total)")
    }
  }

  @Test(
    "the pinned dependencies' histories, some parents newer than their children, list as git log does, graph or not",
    arguments: [false, true])
  func pinnedHistoriesWithSkewedDates(commitGraph: Bool) throws {
    let directory = try TemporaryDirectory()
    let made = try runProcess(
      "/usr/bin/env",
      [
        "python3", fixturesDirectory.appendingPathComponent("make-pinned.py").path, directory.url.path,
        "--date-skew", "0.5",
      ], environment: gitEnvironment)
    try #require(made.status == 0, "\(made.stderr)")
    var inverted = 0
    for name in ["kubespawner", "hubchart", "infra"] {
      let path = directory.url.appendingPathComponent(name)
      if commitGraph { try git(["commit-graph", "write", "--reachable"], in: path) }
      let dated = lines(try git(["log", "--all", "--format=%H %ct %P"], in: path)).map { $0.split(separator: " ") }
      let times = Dictionary(uniqueKeysWithValues: dated.map { ($0[0], Int($0[1])!) })
      inverted += dated.reduce(0) { sum, row in sum + row.dropFirst(2).filter { times[$0]! > times[row[0]]! }.count }
      let repository = try Repository(at: path.path)
      // Every branch from its root commit, all commits and first parents only.
      // Full names: infra has a branch and a folder both named chart.
      for branch in lines(try git(["for-each-ref", "--format=%(refname)", "refs/heads"], in: path)) {
        let roots = lines(try git(["rev-list", "--max-parents=0", branch, "--"], in: path))
        for firstParent in [false, true] {
          let options = firstParent ? ["--first-parent"] : []
          let expected = lines(
            try git(["log", "--format=%H %s"] + options + [branch, "--not"] + roots + ["--"], in: path))
          let listing = try repository.rangeListing(
            bad: try repository.resolve(branch), goods: try roots.map { try repository.resolve($0) },
            firstParent: firstParent)
          #expect(
            listing.commits.map { "\($0.id.hex) \($0.summary)" } == expected,
            "\(name) \(branch)\(firstParent ? " --first-parent" : ""), commit-graph \(commitGraph)")
        }
      }
    }
    #expect(inverted > 0, "no parent is newer than its child: the dates were not skewed")
  }

  @Test("a shallow clone does not use the graph: its boundary commits have no parents")
  func shallowIgnoresGraph() throws {
    let directory = try TemporaryDirectory()
    let path = try Self.makeRepository(in: directory, seed: 31, commits: 80)
    let clone = directory.url.appendingPathComponent("clone")
    try git(["clone", "-q", "--depth", "10", "--no-local", path.path, clone.path], in: directory.url)
    // git writes no graph in a shallow clone; the full repository's covers every commit here.
    try git(["commit-graph", "write", "--reachable"], in: path)
    try FileManager.default.copyItem(at: Self.graphFile(path), to: Self.graphFile(clone))
    let repository = try Repository(at: clone.path)
    let root = lines(try git(["rev-list", "--max-parents=0", "HEAD"], in: clone))
    let bad = try repository.resolve("HEAD")
    // git lists the whole fetched history; a walk through the graph would run past the cut.
    let goods = try root.map { try repository.resolve($0) }
    let (graph, reads) = try repository.commitGraphCountingReads(bad: bad, goods: goods)
    #expect(graph.ids.map(\.hex).sorted() == lines(try git(["rev-list", "HEAD", "--not"] + root, in: clone)).sorted())
    #expect(reads.fromGraph == 0)
  }

  @Test("damage behind a right checksum never crashes the reader: it refuses the file or reads inside it")
  func damagedWithRightChecksum() throws {
    let directory = try TemporaryDirectory()
    let path = try Self.makeRepository(in: directory, seed: 41, commits: 60)
    try git(["commit-graph", "write", "--reachable"], in: path)
    let file = Self.graphFile(path)
    let original = try Data(contentsOf: file)
    let objects = path.appendingPathComponent(".git/objects").path
    var random = SplitMix64(seed: 41)
    var refused = 0
    for trial in 0..<400 {
      var data = original.prefix(original.count - 20)
      // Header and chunk table, fan-out, ids and parents, or anywhere; cut short now and then.
      let limits = [40, 8 + 12 * 6 + 1024, data.count]
      let limit = limits[trial % limits.count]
      for _ in 0..<(1 + trial % 3) {
        let offset = Int.random(in: 0..<limit, using: &random)
        data[offset] = trial % 2 == 0 ? UInt8.random(in: 0...255, using: &random) : data[offset] ^ 0x80
      }
      if trial % 10 == 9 { data = data.prefix(Int.random(in: 0..<data.count, using: &random)) }
      let sum = data.withUnsafeBytes { SHA1.digest($0) }
      try (data + sum).write(to: file)
      guard let graph = CommitGraphFile.load(objectsDirectory: objects) else {
        refused += 1
        continue
      }
      for position in 0..<Int32(graph.count) {
        var parents = [Int32]()
        graph.appendParents(at: position, to: &parents)
        #expect(parents.allSatisfy { $0 >= 0 && $0 < graph.count }, "trial \(trial)")
        _ = graph.position(of: graph.id(at: position))
      }
    }
    #expect(refused > 0)
  }

  @Test("SHA-1 of known vectors and of every length around the block size equals sha1sum")
  func sha1MatchesSha1sum() throws {
    func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
    func digest(_ bytes: [UInt8]) -> String { bytes.withUnsafeBytes { hex(SHA1.digest($0)) } }
    #expect(digest([]) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
    #expect(digest(Array("abc".utf8)) == "a9993e364706816aba3e25717850c26c9cd0d89d")
    #expect(
      digest(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
        == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
    #expect(
      digest([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    let directory = try TemporaryDirectory()
    var random = SplitMix64(seed: 3)
    var files = [String]()
    var ours = [String]()
    for length in Array(0...130) + [1000, 4095, 65_537] {
      let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
      let file = directory.url.appendingPathComponent("\(length)")
      try Data(bytes).write(to: file)
      files.append(file.path)
      ours.append(digest(bytes))
    }
    let output = try runProcess("/usr/bin/env", ["sha1sum"] + files)
    #expect(lines(output.stdout).map { String($0.prefix(40)) } == ours)
  }

  /// This thread's CPU time in seconds: on a shared host it varies less than the clock.
  static func cpuSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
  }

  /// The work whose times docs/git-layer.md gives, checked against git: on a generated
  /// history, or with BISECT_DEPLOY_GRAPH_BENCH naming a repository whose commit-graph file
  /// covers every commit (`git commit-graph write --reachable`), on that one, with the times
  /// printed beside (figures, never a timed assertion).
  @Test("over a whole commit-graph file, the checksum, the load, the walk and ancestry give git's answers")
  func printTimings() throws {
    let directory = try TemporaryDirectory()
    let given = ProcessInfo.processInfo.environment["BISECT_DEPLOY_GRAPH_BENCH"]
    let path: URL
    if let given {
      path = URL(fileURLWithPath: given)
    } else {
      path = try Self.makeRepository(in: directory, seed: 51, commits: 200)
      try git(["commit-graph", "write", "--reachable"], in: path)
    }
    func figure(_ text: @autoclosure () -> String) { if given != nil { print(text()) } }
    let objects = path.appendingPathComponent(".git/objects").path
    let data = try #require(
      FileManager.default.contents(atPath: objects + "/info/commit-graph"), "no commit-graph file")
    var fastest = Double.infinity
    var sum = [UInt8]()
    for _ in 0..<(given == nil ? 1 : 10) {
      let cpu = Self.cpuSeconds()
      sum = data.prefix(data.count - 20).withUnsafeBytes { SHA1.digest($0) }
      fastest = min(fastest, Self.cpuSeconds() - cpu)
    }
    figure("SHA-1 of \(data.count) bytes: fastest of 10, CPU \(fastest) s")
    #expect(sum == Array(data.suffix(20)), "the file ends with the SHA-1 of the rest")

    let all = Int(lines(try git(["rev-list", "--all", "--count"], in: path))[0])
    for _ in 0..<3 {
      let start = ContinuousClock.now
      let graph = CommitGraphFile.load(objectsDirectory: objects)
      figure("load commit-graph: \(ContinuousClock.now - start) (\(graph?.count ?? 0) commits)")
      #expect(graph?.count == all, "the file holds every commit")
    }
    let onMain = lines(try git(["rev-list", "main"], in: path))
    for _ in 0..<3 {
      let repository = try Repository(at: path.path)
      let start = ContinuousClock.now
      let cpu = Self.cpuSeconds()
      let (graph, reads) = try repository.commitGraphCountingReads(bad: try repository.resolve("main"), goods: [])
      figure(
        "commitGraph main: \(ContinuousClock.now - start), CPU \(Self.cpuSeconds() - cpu) s, \(graph.count) commits, \(reads)"
      )
      #expect(graph.ids.map(\.hex).sorted() == onMain.sorted())
      #expect(reads.fromGraph == onMain.count && reads.fromDatabase == 0, "\(reads)")
    }
    let root = lines(try git(["rev-list", "--max-parents=0", "main"], in: path))[0]
    for _ in 0..<3 {
      let repository = try Repository(at: path.path)
      let start = ContinuousClock.now
      let cpu = Self.cpuSeconds()
      let answer = try repository.isAncestor(try repository.resolve(root), of: try repository.resolve("main"))
      figure("isAncestor root main: \(ContinuousClock.now - start), CPU \(Self.cpuSeconds() - cpu) s (\(answer))")
      #expect(answer)
    }
  }
}
