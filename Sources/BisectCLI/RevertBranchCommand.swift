import ArgumentParser
import Foundation
import GitKit
import History
import HuntStore

/// `bisect-deploy revert-branch [--hunt N] NAME`: a branch from a hunt's revert commit
/// (`--confirm-revert`), to push and open a pull request with. Nothing is pushed.
struct RevertBranchCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "revert-branch",
    abstract: "Make a branch from a hunt's revert commit (--confirm-revert), to push for a pull request.",
    discussion: """
      The branch points at the commit kept as refs/bisect-deploy/revert/<hunt>: bad with the \
      culprit reverted. Without --hunt it is the newest hunt that ran --confirm-revert; when \
      that hunt has no revert commit (its revert conflicted), nothing is made and the newest \
      earlier hunt that has one is named. An existing branch is never moved, HEAD, the index \
      and the work tree are not touched, and nothing is pushed: push it yourself \
      (git push origin NAME).
      """)

  @Argument(help: "The new branch's name.") var name: String

  /// A name as `git check-ref-format --branch` would take it, and then some: never a full
  /// reference (`refs/heads/main` would become `refs/heads/refs/heads/main`, and the push hint
  /// would push the real main), never an option or HEAD, never a name git would rewrite.
  func validate() throws {
    if let problem = Self.problem(with: name) {
      throw ValidationError("'\(name.terminalSafe())' is not a branch name this command makes: \(problem).")
    }
  }

  static func problem(with name: String) -> String? {
    if name.isEmpty { return "give a name" }
    if name.hasPrefix("refs/") { return "give the branch's short name (without refs/...)" }
    if name.hasPrefix("-") { return "it starts with '-', which reads as an option" }
    if name == "HEAD" || name == "@" { return "that name means the current commit" }
    if name.hasPrefix("/") || name.hasSuffix("/") || name.contains("//") { return "a '/' at an end or twice in a row" }
    if name.contains("..") || name.contains("@{") || name.hasSuffix(".") || name.hasSuffix(".lock") {
      return "git refuses '..', '@{', and a '.' or '.lock' at the end"
    }
    if name.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { return "a part starting with '.'" }
    let refused = Set(" ~^:?*[\\")
    if name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
      || name.contains(where: refused.contains)
    {
      return "spaces, control characters and ~ ^ : ? * [ \\ are not allowed"
    }
    return nil
  }
  @Option(help: "The hunt's number. (default: the newest hunt that ran --confirm-revert)") var hunt: Int64?
  @OptionGroup var options: StateOptions

  func run() async throws {
    let repository = try options.repository()
    let hunt = hunt
    // The hunt named; else the newest that tried a revert (--confirm-revert), whatever came
    // of it, never quietly an older one; else the newest hunt (to say why not). `older` is
    // the newest earlier hunt with a revert commit, to name when the chosen one has none.
    let (record, older) = try await options.withStore(repository) { store -> (HuntRecord, HuntRecord?) in
      if let hunt {
        let named = try await options.storedHunt(hunt, in: store)
        return (named, nil)
      }
      let hunts = try await store.hunts(limit: 200)
      guard let index = hunts.firstIndex(where: { OutcomeText($0.outcome ?? "").revert != nil }) else {
        let newest = try await options.storedHunt(nil, in: store)
        return (newest, nil)
      }
      let withCommit = hunts[(index + 1)...].first { OutcomeText($0.outcome ?? "").revert?.commit != nil }
      return (hunts[index], withCommit)
    }
    let reference = OutcomeText.Revert.reference(hunt: record.id)
    guard let commit = try repository.reference(reference) else {
      let outcome = OutcomeText(record.outcome ?? "")
      let why =
        outcome.revert?.result == .conflicts
        ? "its revert conflicted (\(outcome.revert?.files.joined(separator: ", ") ?? "")), so no commit was made"
        : "it has no revert commit (it ran without --confirm-revert, named no single culprit, or its revert failed)"
      let other =
        older.map {
          " Hunt #\($0.id) (bad \($0.bad.prefix(7))) has one: `bisect-deploy revert-branch --hunt \($0.id) \(shellWord(name))` branches that one."
        } ?? ""
      throw CommandFailure(message: "Hunt #\(record.id): \(why). Nothing was made.\(other)", status: .usage)
    }
    // Hunt numbers are the store's and references the clone's: after `state migrate`, or with
    // a database other clones share, the reference of that number may be another hunt's.
    // Only the commit the hunt itself recorded is branched.
    guard let recorded = OutcomeText(record.outcome ?? "").revert?.commit, recorded == commit.hex else {
      throw CommandFailure(
        message:
          "Hunt #\(record.id) did not make the revert commit \(commit.short(10)) that \(reference) names in this clone (that reference is another hunt's, from another state or an older run). Nothing was made; remove the reference (git update-ref -d \(reference)) or pass the --hunt that made it.",
        status: .usage)
    }
    try repository.createBranch(name, at: commit)
    let subject = (try? repository.commit(commit).summary) ?? ""
    print("Branch \(name) made at \(commit.short(10)) \(subject) (hunt #\(record.id), \(reference)).")
    print("Nothing was pushed. Push it for a pull request: git push origin \(name)")
  }
}
