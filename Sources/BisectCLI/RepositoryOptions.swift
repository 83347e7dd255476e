import ArgumentParser
import Foundation
import GitKit
import History
import HuntStore

/// Options every command that reads a range takes: where the repository is and which commits
/// bound the range.
struct RangeOptions: ParsableArguments {
  @Option(name: .long, help: "A commit known to be good (repeat for several). Hash, branch, tag or HEAD~N.")
  var good: [String] = []

  @Option(name: .long, help: "A commit known to be bad. Hash, branch, tag or HEAD~N.")
  var bad: String?

  @Option(help: "Good as of this date-time: the last first-parent commit of --branch then (\"2017-03-19\").")
  var goodAt: String?

  @Option(help: "Bad as of this date-time: the last first-parent commit of --branch then (\"2017-03-23 09:00\").")
  var badAt: String?

  @Option(help: "The branch --good-at and --bad-at look at.")
  var branch = "HEAD"

  // Optional so that help says the default once, in words.
  @Option(name: .customLong("repo"), help: "The repository, or any folder inside it. (default: the current folder)")
  var repoOption: String?

  /// The repository folder the user named, or the current folder.
  var repo: String { repoOption ?? "." }

  @Flag(name: .long, help: "Follow only first parents (the history of the main line).")
  var firstParent = false

  @Argument(help: "Only commits that change these paths count (put them after --).")
  var paths: [String] = []

  func validate() throws {
    if good.isEmpty && goodAt == nil {
      throw ValidationError("Missing --good: give at least one commit known to be good (or --good-at DATE).")
    }
    if bad == nil && badAt == nil {
      throw ValidationError("Missing --bad: give the commit known to be bad (or --bad-at DATE).")
    }
    for (flag, text) in [("--good-at", goodAt), ("--bad-at", badAt)] {
      if let text, Self.parseDate(text) == nil {
        throw ValidationError(
          "\(flag) '\(text)': give a date like 2017-03-19, 2017-03-23 09:00 or 2017-03-23T09:00:00Z.")
      }
    }
  }

  /// The ends as revisions a hunt can store: dates resolved to commits (and said on stderr).
  /// A range or a set of commits where one commit is expected is refused first (exit 65).
  func revisions(in repository: Repository) throws -> (bad: String, goods: [String]) {
    for (flag, revision) in good.map({ ("--good", $0) }) + (bad.map { [("--bad", $0)] } ?? []) {
      if let problem = Self.notOneCommit(revision, flag: flag) {
        throw CommandFailure(message: problem, status: .badRevision)
      }
    }
    func atDate(_ text: String, flag: String) throws -> String {
      guard let date = Self.parseDate(text) else { throw ValidationError("\(flag) '\(text)' is not a date.") }
      let tip = try repository.resolve(branch)
      guard let id = try repository.firstParentCommit(from: tip, atOrBefore: Int64(date.timeIntervalSince1970)) else {
        throw CommandFailure(
          message: "\(flag) \(text): '\(branch)' has no commit that old. Give a later date or --good/--bad.",
          status: .badRevision)
      }
      let facts = try repository.commit(id)
      let when = Date(timeIntervalSince1970: TimeInterval(facts.committer.time)).formatted(.iso8601)
      printError("\(flag) \(text) resolved to \(id.short()) \(facts.summary) (committed \(when))")
      return id.hex
    }
    let badRevision = try bad ?? atDate(badAt ?? "", flag: "--bad-at")
    var goods = good
    if let goodAt { goods.append(try atDate(goodAt, flag: "--good-at")) }
    return (badRevision, goods)
  }

  /// Why `revision` is git's notation for several commits rather than one (`a..b`, `a...b`,
  /// `^a`, `a^!`, `a^@`, `a^-`), with what to give instead; nil for anything else. libgit2's
  /// revparse refuses most of these with no message, and reads `a^@` as `a^` (one parent of
  /// several), so they are caught here. Text inside `{...}` (`HEAD@{1}`, `HEAD^{/fix..}`) and
  /// after a `:` (`:/message`, `HEAD:path`) is not revision syntax and is left alone.
  static func notOneCommit(_ revision: String, flag: String) -> String? {
    // The revision's syntax: its characters up to a `:`, with those inside braces blanked.
    var syntax = [Character]()
    var depth = 0
    for character in revision {
      if character == "{" { depth += 1 }
      if depth == 0 && character == ":" { break }
      syntax.append(depth == 0 ? character : "_")
      if character == "}" { depth = max(0, depth - 1) }
    }
    let characters = Array(revision)
    func text(_ range: Range<Int>) -> String { String(characters[range]) }
    func shown(_ text: String) -> String { shellWord(text) }
    if let dots = syntax.indices.first(where: { $0 + 1 < syntax.count && syntax[$0] == "." && syntax[$0 + 1] == "." }) {
      let three = dots + 2 < syntax.count && syntax[dots + 2] == "."
      let left = text(0..<dots)
      let right = text((dots + (three ? 3 : 2))..<characters.count)
      let good = left.isEmpty ? "HEAD" : left
      let bad = right.isEmpty ? "HEAD" : right
      return
        "\(flag) '\(revision)' is a range (git's A\(three ? "..." : "..")B), not one commit: give its two ends, as --good \(shown(good)) --bad \(shown(bad))."
    }
    if syntax.first == "^" {
      return
        "\(flag) '\(revision)' is git's notation for leaving a commit out of a range, not one commit: give the commit itself, as \(flag) \(shown(text(1..<characters.count)))."
    }
    // `X^!` (X without its parents), `X^@` (all of X's parents), `X^-N` (X^N..X).
    let ending = (syntax.lastIndex { !$0.isNumber } ?? -1) + 1
    guard ending >= 2, syntax[ending - 2] == "^" else { return nil }
    let kind = syntax[ending - 1]
    // Only `^-` takes a number (`X^-2`).
    guard kind == "-" || ("!@".contains(kind) && ending == syntax.count) else { return nil }
    let commit = text(0..<(ending - 2))
    let meaning =
      switch kind {
      case "!": "\(commit) without its parents"
      case "@": "all the parents of \(commit)"
      default: "a range from a parent of \(commit) to \(commit)"
      }
    return
      "\(flag) '\(revision)' is git's notation for several commits (\(meaning)), not one commit: give one, as \(flag) \(shown(commit)) or \(flag) \(shown(commit + "^1"))."
  }

  /// Reads a date-time in the machine's time zone unless it names one. A date alone means the
  /// end of that day ("fine on the 19th": the last commit of the 19th).
  static func parseDate(_ text: String) -> Date? {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    // Dates are ASCII; other text (a combining mark after a digit) made Foundation's
    // DateFormatter trap (found by fuzzing).
    guard !trimmed.isEmpty, trimmed.unicodeScalars.allSatisfy(\.isASCII) else { return nil }
    if let date = ISO8601DateFormatter().date(from: trimmed) { return date }
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone.current
    for format in ["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm"] {
      formatter.dateFormat = format
      if let date = formatter.date(from: trimmed) { return date }
    }
    formatter.dateFormat = "yyyy-MM-dd"
    return formatter.date(from: trimmed).map { $0.addingTimeInterval(24 * 3600 - 1) }
  }

  /// The range's ends resolved to commits, each error naming what the user typed.
  func resolve(in repository: Repository) throws -> (bad: ObjectID, goods: [ObjectID]) {
    let ends = try revisions(in: repository)
    let badID = try repository.resolve(ends.bad)
    var goodIDs = [ObjectID]()
    for revision in ends.goods { goodIDs.append(try repository.resolve(revision)) }
    return (badID, goodIDs)
  }

  /// Opens the repository, resolves the ends and loads the range's graph.
  /// The repository and the range's ends, resolved.
  func resolved() throws -> (repository: Repository, ends: (bad: ObjectID, goods: [ObjectID])) {
    let repository = try Repository(at: repo)
    return (repository, try resolve(in: repository))
  }

  func load() throws -> (repository: Repository, bad: ObjectID, goods: [ObjectID], graph: CommitGraph) {
    let (repository, ends) = try resolved()
    let graph = try repository.commitGraph(bad: ends.bad, goods: ends.goods, paths: paths, firstParent: firstParent)
    return (repository, ends.bad, ends.goods, graph)
  }
}
