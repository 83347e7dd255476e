import Foundation
import GitKit
import History
import TestSupport
import Testing

/// The listing cuts each summary out of the walk's own read of the commit
/// (`Repository.rangeListing`); libgit2's `git_commit_summary` (behind `Repository.commit`) is
/// the oracle, on messages written byte by byte to reach each of its rules.
@Suite struct RangeSummaryTests {
  /// Raw commit bodies after the `committer` line: extra header lines, the blank line, the
  /// message. `\u{0}` is a zero byte.
  static let bodies: [String] = [
    "\nplain subject\n",
    "\n\n\n  leading newlines, then blanks kept\n",
    "\ntwo\nline subject\n\nbody\n",
    "\ntabs\tinside  and   runs \n   \nafter a line of blanks\n",
    "\ncarriage\r\nreturns\r\n\r\nbody",
    "\nvertical\u{0B}tab and form\u{0C}feed\n",
    "\na\n\tcontinued\n  and again\nend\n",
    "\ntrailing blanks   \t\n",
    "\nzero\u{0} byte ends the message\n",
    "\n   \n\nonly blanks first\n",
    "\nno final newline",
    "\n",
    "",
    "\nsubject\n \t \nbody after a blank-only line",
    "\nwindows line\r\n",
    "gpgsig -----BEGIN PGP SIGNATURE-----\n encoding fake\n \n -----END PGP SIGNATURE-----\n\nsigned subject\n",
    "encoding latin1\n\ncaf\u{E9} au\nlait\n",
    "mergetag object 0000000000000000000000000000000000000000\n type commit\n\nafter a mergetag\n",
    "\n\u{1B}[31mescape in subject\n",
  ]

  @Test("each summary and parent count equals libgit2's, with and without a commit-graph", arguments: [false, true])
  func summariesMatchLibgit2(withGraph: Bool) throws {
    let directory = try TemporaryDirectory()
    let path = directory.url
    try git(["init", "-q", "-b", "main"], in: path)
    let tree = try git(["mktree"], in: path, input: "").trimmingCharacters(in: .whitespacesAndNewlines)

    var parents = [String]()
    var made = [String]()
    for (index, body) in Self.bodies.enumerated() {
      // Every fifth commit merges the two before it, so that parent counts differ.
      let merged = index % 5 == 4 && made.count >= 2 ? [made[made.count - 1], made[made.count - 2]] : parents
      var raw = Data("tree \(tree)\n".utf8)
      for parent in merged { raw.append(Data("parent \(parent)\n".utf8)) }
      let time = 1_490_000_000 + index * 60
      raw.append(Data("author A U Thor <author@example.com> \(time) +0000\n".utf8))
      raw.append(Data("committer C O Mitter <committer@example.com> \(time) +0000\n".utf8))
      // Latin-1 bodies hold bytes above 0x7F as themselves, not as UTF-8.
      raw.append(body.contains("latin1") ? Data(body.unicodeScalars.map { UInt8($0.value) }) : Data(body.utf8))
      let file = path.appendingPathComponent("commit-\(index)")
      try raw.write(to: file)
      let id = try git(["hash-object", "-t", "commit", "-w", "--literally", file.path], in: path)
        .trimmingCharacters(in: .whitespacesAndNewlines)
      made.append(id)
      parents = [id]
    }
    try git(["update-ref", "refs/heads/main", made[made.count - 1]], in: path)
    if withGraph { try git(["commit-graph", "write", "--reachable"], in: path) }

    let repository = try Repository(at: path.path)
    let bad = try repository.resolve("main")
    let root = try repository.resolve(made[0])
    let listing = try repository.rangeListing(bad: bad, goods: [root])
    let expected = lines(try git(["rev-list", "main", "^" + made[0]], in: path))
    #expect(listing.commits.map(\.id.hex) == expected)
    #expect(listing.commits.count == Self.bodies.count - 1)
    for commit in listing.commits {
      let info = try repository.commit(commit.id)
      #expect(commit.summary == info.summary, "commit \(commit.id.hex): \(info.message.debugDescription)")
      #expect(commit.parentCount == info.parents.count, "commit \(commit.id.hex)")
    }
    #expect(listing.commits.contains { $0.parentCount == 2 })
    #expect(listing.commits.contains { $0.summary == "café au lait" })
  }

  /// Merge histories whose dates run against the graph (a third of the commits dated up to 90
  /// minutes off), so that the walk's order and the graph's numbering differ.
  static let skewedSeeds = Array(1...8)

  @Test(
    "the listing is git log --format='%H %s' line for line, on merge histories with parents newer than children",
    arguments: skewedSeeds, [false, true])
  func listingMatchesGitLog(seed: Int, withGraph: Bool) throws {
    let directory = try TemporaryDirectory()
    let shape = HistoryShape(
      commits: 80 + seed * 23, seed: 100 + seed, mergeRatio: 0.3, dateSkew: 0.35, commitGraph: withGraph)
    let path = try makeHistory(shape, in: directory.url)
    let repository = try Repository(at: path.path)
    let all = lines(try git(["rev-list", "--all"], in: path))
    let newerParents = try git(["log", "--all", "--format=%H %ct %P"], in: path)
    #expect(
      Self.parentNewerThanChild(newerParents), "seed \(seed): the history must have a parent newer than its child")
    var random = SplitMix64(seed: UInt64(seed))
    let pathSets = [["config"], ["hub/spawner.py", "docs"]]

    for trial in 0..<4 {
      let bad = trial == 0 ? "main" : all[Int.random(in: 0..<all.count / 2, using: &random)]
      let good = all[Int.random(in: all.count / 2..<all.count, using: &random)]
      let firstParent = trial == 2
      let paths = trial == 3 ? pathSets[seed % 2] : []
      let listing = try repository.rangeListing(
        bad: try repository.resolve(bad), goods: [try repository.resolve(good)], paths: paths,
        firstParent: firstParent)
      let expected = lines(
        try git(
          ["log", "--format=%H %s"] + (firstParent ? ["--first-parent"] : []) + [bad, "^" + good, "--"] + paths,
          in: path))
      #expect(
        listing.commits.map { "\($0.id.hex) \($0.summary)" } == expected,
        "seed \(seed) graph \(withGraph) trial \(trial): \(bad) ^\(good) first-parent \(firstParent) -- \(paths)")
    }
  }

  /// Whether `log` (`%H %ct %P` lines) has a commit older than one of its parents.
  static func parentNewerThanChild(_ log: String) -> Bool {
    var times = [Substring: Int]()
    let rows = log.split(separator: "\n").map { $0.split(separator: " ") }
    for row in rows where row.count >= 2 { times[row[0]] = Int(row[1]) }
    return rows.contains { row in
      row.count > 2 && row[2...].contains { parent in (times[parent] ?? .min) > (times[row[0]] ?? .max) }
    }
  }
}
