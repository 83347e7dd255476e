import ArgumentParser
import GitKit
import History

/// Options every command that reads a range takes: where the repository is and which commits
/// bound the range.
struct RangeOptions: ParsableArguments {
  @Option(name: .long, help: "A commit known to be good (repeat for several). Hash, branch, tag or HEAD~N.")
  var good: [String] = []

  @Option(name: .long, help: "A commit known to be bad. Hash, branch, tag or HEAD~N.")
  var bad: String

  @Option(name: .long, help: "The repository, or any folder inside it (default: the current folder).")
  var repo: String = "."

  @Flag(name: .long, help: "Follow only first parents (the history of the main line).")
  var firstParent = false

  @Argument(help: "Only commits that change these paths count (put them after --).")
  var paths: [String] = []

  func validate() throws {
    if good.isEmpty {
      throw ValidationError("Missing --good: give at least one commit known to be good.")
    }
  }

  /// The range's ends resolved to commits, each error naming what the user typed.
  func resolve(in repository: Repository) throws(GitError) -> (bad: ObjectID, goods: [ObjectID]) {
    let badID = try repository.resolve(bad)
    var goodIDs = [ObjectID]()
    for revision in good { goodIDs.append(try repository.resolve(revision)) }
    return (badID, goodIDs)
  }

  /// Opens the repository, resolves the ends and loads the range's graph.
  func load() throws(GitError) -> (repository: Repository, bad: ObjectID, goods: [ObjectID], graph: CommitGraph) {
    let repository = try Repository(at: repo)
    let ends = try resolve(in: repository)
    let graph = try repository.commitGraph(bad: ends.bad, goods: ends.goods, paths: paths, firstParent: firstParent)
    return (repository, ends.bad, ends.goods, graph)
  }
}
