import ArgumentParser
import Foundation
import GitKit
import History

/// `bisect-deploy range`: how many commits lie between good and bad, and which.
struct RangeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "range",
    abstract: "Count and list the commits between --good and --bad (what a hunt would search).",
    discussion: """
      The range is every commit reachable from --bad and from none of the --good commits, as \
      `git rev-list <bad> --not <good>...`. With paths after --, only commits that change them \
      are listed, with git's default history simplification.
      """
  )

  @OptionGroup var range: RangeOptions

  @Flag(name: .long, help: "Print only the number of commits.")
  var count = false

  @Flag(name: .long, help: "Print one JSON object instead of text.")
  var json = false

  func run() throws {
    if count && !json {
      // The count alone needs no numbered graph: the walk counts.
      let (repository, ends) = try range.resolved()
      let found = try repository.rangeCount(
        bad: ends.bad, goods: ends.goods, paths: range.paths, firstParent: range.firstParent)
      for note in try ancestryNotes(
        bad: ends.bad, goods: ends.goods, known: found.boundaryAncestry, repository: repository)
      {
        printError("note: \(note)")
      }
      print(found.count)
      return
    }
    let (repository, ends) = try range.resolved()
    let listing = try repository.rangeListing(
      bad: ends.bad, goods: ends.goods, paths: range.paths, firstParent: range.firstParent)
    let graph = listing.graph
    for note in try ancestryNotes(
      bad: graph.tip, goods: graph.boundaries, known: graph.boundaryAncestry, repository: repository)
    {
      printError("note: \(note)")
    }
    if json {
      try printJSON(listing, repository: repository)
      return
    }
    // Merges as git counts them: commits with several parents, even when only the first is followed.
    let merges = listing.commits.filter { $0.parentCount > 1 }.count
    let listed = listing.commits.count
    print("\(listed) commit\(listed == 1 ? "" : "s") in range (\(merges) merge\(merges == 1 ? "" : "s"))")
    for commit in listing.commits { printOut("\(commit.id.hex) \(commit.summary)") }
  }

  /// Goods that are not ancestors of bad are legal (git takes them), but worth saying.
  private func ancestryNotes(bad: ObjectID, goods: [ObjectID], known: [ObjectID: Bool], repository: Repository)
    throws(GitError) -> [String]
  {
    var notes = [String]()
    for (revision, good) in zip(range.good, goods) where try !repository.isAncestor(good, of: bad, known: known) {
      // Bad older than good: the range is empty, and the ends most likely swapped (a hunt says
      // the same and deploys nothing).
      if try repository.isAncestor(bad, of: good) {
        notes.append(
          "--bad \(range.bad ?? bad.short()) is an ancestor of --good \(revision): nothing lies between them. Did you swap --good and --bad?"
        )
        continue
      }
      let bases = try repository.mergeBases(good, bad).map { $0.short() }
      notes.append(
        "--good \(revision) is not an ancestor of --bad \(range.bad ?? bad.short()); the range starts after their merge base\(bases.count == 1 ? "" : "s") \(bases.isEmpty ? "(none: no shared history)" : bases.joined(separator: ", "))."
      )
    }
    return notes
  }

  /// The listing as one JSON object: the commits in the text's order (git's).
  private func printJSON(_ listing: RangeListing, repository: Repository) throws {
    struct Entry: Encodable {
      var id: String
      var parents: [String]
      var commitTime: Int64
      var summary: String
    }
    struct Output: Encodable {
      var bad: String
      var goods: [String]
      var firstParent: Bool
      var paths: [String]
      var count: Int
      var commits: [Entry]?
    }
    var entries = [Entry]()
    if !count {
      for commit in listing.commits {
        let info = try repository.commit(commit.id)
        entries.append(
          Entry(
            id: commit.id.hex, parents: info.parents.map(\.hex), commitTime: info.committer.time,
            summary: commit.summary))
      }
    }
    let graph = listing.graph
    let output = Output(
      bad: graph.tip.hex, goods: graph.boundaries.map(\.hex), firstParent: graph.isFirstParent,
      paths: graph.paths, count: listing.commits.count, commits: count ? nil : entries)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    writeJSON(String(decoding: try encoder.encode(output), as: UTF8.self))
  }
}
