import Foundation
import GitKit
import History

/// A dependency's history between the culprit's parent's pin (old) and the culprit's (new),
/// ready for a bisection: the graph the engine searches and the text a step writes into the
/// pin for each of its commits.
package struct DependencyRange {
  /// Commits between the pins, or versions (tags) between them.
  package enum Revisions: String, Sendable, Hashable {
    case commits, versions
  }

  package var revisions: Revisions
  package var old: ObjectID
  package var new: ObjectID
  package var oldText: String
  package var newText: String
  /// For commits: the dependency's commits between the pins (first parents only with
  /// `--first-parent` or `--descend`). For versions: one commit per version, each the
  /// parent of the next, in the tags' version order (the engine searches a line).
  package var graph: CommitGraph
  /// What a step writes into the pin for a commit of the graph: the ends as the pins read,
  /// commits as 40 hexadecimal digits, versions in the pin's own style (`0.5.0` for tag `v0.5.0`).
  package var texts: [ObjectID: String]

  /// The text to write for `commit`.
  package func text(for commit: ObjectID) -> String {
    if commit == old { return oldText }
    if commit == new { return newText }
    return texts[commit] ?? commit.hex
  }

  /// The range between `old` and `new` in `repository`, or why there is none: a pin that
  /// names no commit or tag, a branch (it moves), a downgrade, or a new pin that does not
  /// contain the old one (a fork, a rewritten branch).
  package static func make(
    name: String, old: String, new: String, in repository: Repository, firstParent: Bool
  ) -> Result<DependencyRange, Refusal> {
    let tags: [TagInfo]
    do {
      tags = try repository.tags()
    } catch {
      return .failure(Refusal("its tags cannot be read: \(error.errorDescription ?? "\(error)")"))
    }
    let oldPin: PinRevision
    let newPin: PinRevision
    switch (resolve(old, name: name, in: repository, tags: tags), resolve(new, name: name, in: repository, tags: tags))
    {
    case (.failure(let refusal), _), (_, .failure(let refusal)): return .failure(refusal)
    case (.success(let first), .success(let second)):
      oldPin = first
      newPin = second
    }
    if oldPin.commit == newPin.commit {
      return .failure(
        Refusal("\(old) and \(new) name the same commit, \(oldPin.commit.short()): the code did not change"))
    }
    do {
      if try !repository.isAncestor(oldPin.commit, of: newPin.commit) {
        if try repository.isAncestor(newPin.commit, of: oldPin.commit) {
          return .failure(
            Refusal(
              "a downgrade: \(new) is older than \(old) (an ancestor of it), so there is nothing between to search"))
        }
        return .failure(
          Refusal(
            "\(old) is not an ancestor of \(new): the pin moved to another line of history (a fork or a rewritten branch), so no range of commits leads from one to the other"
          ))
      }
    } catch {
      return .failure(Refusal("its history cannot be read: \(error.errorDescription ?? "\(error)")"))
    }
    if case .version(let oldTag, let oldStyle) = oldPin, case .version(let newTag, _) = newPin,
      let oldVersion = Version(oldTag.name), let newVersion = Version(newTag.name)
    {
      guard oldVersion < newVersion else {
        return .failure(Refusal("a downgrade: version \(new) sorts before \(old)"))
      }
      return .success(
        versions(
          between: (oldTag, oldVersion), and: (newTag, newVersion), tags: tags, style: oldStyle, oldText: old,
          newText: new))
    }
    do {
      let graph = try repository.commitGraph(
        bad: newPin.commit, goods: [oldPin.commit], paths: [], firstParent: firstParent)
      return .success(
        DependencyRange(
          revisions: .commits, old: oldPin.commit, new: newPin.commit, oldText: old, newText: new, graph: graph,
          texts: [:]))
    } catch {
      return .failure(Refusal("its commits between the pins cannot be read: \(error.errorDescription ?? "\(error)")"))
    }
  }

  /// Why a pin bump is not descended into, in words for the summary.
  package struct Refusal: Error, Sendable, Hashable {
    package var reason: String
    package init(_ reason: String) { self.reason = reason }
  }

  /// The versions after `old` up to `new` among tags of the same style (the same text before
  /// the first digit), in version order, one commit each: a tag naming the same commit as
  /// one before it adds nothing to search and is left out.
  private static func versions(
    between old: (tag: TagInfo, version: Version), and new: (tag: TagInfo, version: Version), tags: [TagInfo],
    style: PinStyle, oldText: String, newText: String
  ) -> DependencyRange {
    let prefix = Version.prefix(of: old.tag.name)
    var between = tags.compactMap { tag -> (tag: TagInfo, version: Version)? in
      guard Version.prefix(of: tag.name) == prefix, let version = Version(tag.name), old.version < version,
        version < new.version
      else { return nil }
      return (tag, version)
    }
    between.sort { $0.version < $1.version || ($0.version == $1.version && $0.tag.name < $1.tag.name) }
    var seen: Set<ObjectID> = [old.tag.commit, new.tag.commit]
    var chain = [TagInfo]()
    for entry in between where seen.insert(entry.tag.commit).inserted { chain.append(entry.tag) }
    chain.append(new.tag)
    var commits = [CommitGraph.Commit]()
    var texts = [ObjectID: String]()
    for (index, tag) in chain.enumerated() {
      let parent = index == 0 ? old.tag.commit : chain[index - 1].commit
      // The order of versions, not of commit times, decides the line: times are the positions.
      commits.append(CommitGraph.Commit(id: tag.commit, parents: [parent], commitTime: Int64(index + 1)))
      texts[tag.commit] = style.text(forTag: tag.name)
    }
    let graph = CommitGraph(tip: new.tag.commit, boundaries: [old.tag.commit], commits: commits)
    return DependencyRange(
      revisions: .versions, old: old.tag.commit, new: new.tag.commit, oldText: oldText, newText: newText, graph: graph,
      texts: texts)
  }

  /// What a pin's text names in the dependency's history.
  package enum PinRevision {
    case commit(ObjectID)
    case version(TagInfo, PinStyle)

    var commit: ObjectID {
      switch self {
      case .commit(let id): id
      case .version(let tag, _): tag.commit
      }
    }
  }

  /// How the pin writes a tag's name: `0.5.0` for tag `v0.5.0` drops the tag's `v`.
  package struct PinStyle: Sendable, Hashable {
    var pinPrefix: String
    var tagPrefix: String

    func text(forTag name: String) -> String {
      name.hasPrefix(tagPrefix) ? pinPrefix + name.dropFirst(tagPrefix.count) : name
    }
  }

  /// A pin's text as a tag (`0.5.0`, or `v0.5.0` when the tags carry a `v`), else as a
  /// commit (a hexadecimal hash); a branch is refused, since it moves.
  package static func resolve(_ text: String, name: String, in repository: Repository, tags: [TagInfo])
    -> Result<PinRevision, Refusal>
  {
    let candidates: [(tag: String, style: PinStyle)] =
      [(text, PinStyle(pinPrefix: "", tagPrefix: ""))] + [("v" + text, PinStyle(pinPrefix: "", tagPrefix: "v"))]
      + (text.hasPrefix("v") ? [(String(text.dropFirst()), PinStyle(pinPrefix: "v", tagPrefix: ""))] : [])
    for candidate in candidates {
      if let tag = tags.first(where: { $0.name == candidate.tag }) { return .success(.version(tag, candidate.style)) }
    }
    if (try? repository.isBranch(text)) == true {
      return .failure(
        Refusal("\(text) is a branch of \(name), not a pinned revision: it moves, so it names no one state"))
    }
    let isHash =
      (4...40).contains(text.utf8.count)
      && text.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) || ($0 >= 65 && $0 <= 70) }
    guard isHash else {
      return .failure(Refusal("\(text) names no tag or commit of \(name): fetch it into the dependency's clone"))
    }
    do {
      return .success(.commit(try repository.resolve(text)))
    } catch {
      return .failure(Refusal("\(text) does not resolve in \(name)'s history: \(error.errorDescription ?? "\(error)")"))
    }
  }
}

/// A version as tags write it: a prefix (`v`, `hub-`), numbers separated by dots, then an
/// optional pre-release (`-rc1`, after which the release itself sorts) and build metadata
/// (`+build`, ignored in the order). Ordered as `git -c versionsort.suffix=- tag
/// --sort=version:refname` orders such tags: numbers as numbers, also inside a pre-release.
package struct Version: Comparable, Hashable {
  /// Trailing zeros dropped, so that `1.2` and `1.2.0` are the same version.
  package var numbers: [Int]
  /// Empty for a release.
  package var preRelease: String

  package init?(_ tag: String) {
    var rest = Substring(tag.dropFirst(Self.prefix(of: tag).count))
    // Semantic versioning's characters only: a version is written into a pinned file, which a
    // deploy may hand to a shell (a Dockerfile's RUN line), so `$(...)` in a tag is no version.
    guard
      rest.unicodeScalars.allSatisfy({
        $0.isASCII && (CharacterSet.alphanumerics.contains($0) || ".-+".unicodeScalars.contains($0))
      })
    else { return nil }
    if let plus = rest.firstIndex(of: "+") { rest = rest[..<plus] }
    var preRelease = ""
    if let dash = rest.firstIndex(of: "-") {
      preRelease = String(rest[rest.index(after: dash)...])
      guard !preRelease.isEmpty else { return nil }
      rest = rest[..<dash]
    }
    var numbers = [Int]()
    for part in rest.split(separator: ".", omittingEmptySubsequences: false) {
      guard !part.isEmpty, part.count <= 9, part.allSatisfy(\.isASCIIDigitCharacter), let value = Int(part) else {
        return nil
      }
      numbers.append(value)
    }
    guard !numbers.isEmpty else { return nil }
    while numbers.count > 1, numbers.last == 0 { numbers.removeLast() }
    self.numbers = numbers
    self.preRelease = preRelease
  }

  /// The text before the first digit: tags of one project share it.
  package static func prefix(of tag: String) -> Substring {
    tag.prefix { !$0.isASCIIDigitCharacter }
  }

  package static func < (left: Version, right: Version) -> Bool {
    for index in 0..<max(left.numbers.count, right.numbers.count) {
      let a = index < left.numbers.count ? left.numbers[index] : 0
      let b = index < right.numbers.count ? right.numbers[index] : 0
      if a != b { return a < b }
    }
    // A pre-release sorts before its release.
    switch (left.preRelease.isEmpty, right.preRelease.isEmpty) {
    case (true, _): return false
    case (false, true): return true
    case (false, false): return naturallyBefore(left.preRelease, right.preRelease)
    }
  }

  /// Text compared run by run, runs of digits as numbers: `rc2` before `rc10`.
  package static func naturallyBefore(_ left: String, _ right: String) -> Bool {
    let a = runs(left)
    let b = runs(right)
    for (x, y) in zip(a, b) where x != y {
      if let first = Int(x), let second = Int(y) { return first < second }
      return x < y
    }
    return a.count < b.count
  }

  private static func runs(_ text: String) -> [String] {
    var runs = [String]()
    for character in text {
      if let last = runs.last, last.last?.isASCIIDigitCharacter == character.isASCIIDigitCharacter {
        runs[runs.count - 1].append(character)
      } else {
        runs.append(String(character))
      }
    }
    return runs
  }
}

extension Character {
  fileprivate var isASCIIDigitCharacter: Bool { ("0"..."9").contains(self) }
}
