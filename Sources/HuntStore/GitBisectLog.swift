extension StateStore {
  /// The hunt as `git bisect log` would print it, for `git bisect replay`.
  ///
  /// The start block names bad and the goods (`# bad: [hash] subject` comments, then
  /// `git bisect start` with `--first-parent` and `-- PATHS` when the hunt used them); then
  /// every step that gave a verdict (good, bad or skip, reused ones included, aborts left
  /// out, and so are deploys that failed in one environment and moved to another), in order, as a `# verdict: [hash] subject` comment and a `git bisect verdict hash`
  /// line; a revert proof's step (`--confirm-revert`) is a comment only. Arguments of `start` are single-quoted as git quotes them.
  ///
  /// - Parameters:
  ///   - firstBadCommit: the culprit, if the hunt found one: written as git's closing
  ///     `# first bad commit: [hash] subject` comment.
  ///   - subject: the subject line of a commit (given 40 hexadecimal digits), or nil to
  ///     leave it out; only comments use it, so replay works without.
  public func gitBisectLog(
    huntID: Int64, firstBadCommit: String? = nil, subject: (String) -> String? = { _ in nil }
  ) async throws(StoreError) -> String {
    guard let hunt = try await hunt(id: huntID) else { throw .unknownHunt(id: huntID, path: location) }
    let steps = try await steps(huntID: huntID)
    func comment(_ label: String, _ commit: String) -> String {
      let text = subject(commit).map { " " + $0 } ?? ""
      return "# \(label): [\(commit)]\(text)\n"
    }
    var log = comment("bad", hunt.bad)
    for good in hunt.goods { log += comment("good", good) }
    var arguments = hunt.firstParent ? ["--first-parent"] : []
    arguments += [hunt.bad] + hunt.goods
    if !hunt.paths.isEmpty { arguments += ["--"] + hunt.paths }
    log += "git bisect start " + arguments.map(gitShellQuoted).joined(separator: " ") + "\n"
    // A dependency's steps judged another repository's commits: not this bisection's.
    for step in steps where !step.purpose.deploysDependency {
      guard let verdict = step.verdict, !step.moved else { continue }
      // Bad with the culprit reverted is a commit the tool made, a child of bad: git would
      // refuse it as a verdict of the range, so it is only a comment.
      if step.purpose == .revert {
        log += comment("revert proof, \(verdict.rawValue)", step.commit)
        continue
      }
      log += comment(verdict.rawValue, step.commit)
      log += "git bisect \(verdict.rawValue) \(step.commit)\n"
    }
    if let firstBadCommit { log += comment("first bad commit", firstBadCommit.lowercased()) }
    return log
  }
}

/// Quotes like git's `sq_quote_buf`, which `git bisect replay` undoes: inside single
/// quotes, `'` becomes `'\''` and `!` becomes `'\!'`.
package func gitShellQuoted(_ text: String) -> String {
  var quoted = "'"
  for character in text {
    switch character {
    case "'": quoted += "'\\''"
    case "!": quoted += "'\\!'"
    default: quoted.append(character)
    }
  }
  return quoted + "'"
}

/// `text` as one word for a shell command line a person copies: as it is when it holds only
/// characters no shell treats specially, else single-quoted.
package func shellWord(_ text: String) -> String {
  let plain =
    !text.isEmpty
    && text.utf8.allSatisfy { byte in
      switch byte {
      case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"):
        true
      default: "_./:@%+,=-".utf8.contains(byte)
      }
    }
  return plain ? text : gitShellQuoted(text)
}
