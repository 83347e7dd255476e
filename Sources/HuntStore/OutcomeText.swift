import Foundation
import History

/// A hunt's stored outcome (`HuntRecord.outcome`): the one place that writes and reads that
/// text (hunts write it, reports and `log` read it).
///
/// The text is a first part ("culprit <hash>", "culprit-among <hash> <hash>…", "no-regression",
/// "contradiction …", "nothing-to-search …", "aborted: …", "stopped …", "reset"), then optional
/// extra parts after "; ", in this order: `descend merge <hash> (<note>)`, one
/// `dependency <name> <old> <new> <result>` per pin the culprit changed (see `Dependency`),
/// `probability 0.9973 runner-up <hash> 0.0021 (confident, 23 test runs)` (with, since the
/// failure-rate model, `, 9 deploys, fails 0.4800 after 0.0200 before, bad 5/11 good 0/6`
/// inside the brackets: see `Probability`) and
/// `confirm holds` / `confirm does-not-hold`, and last `revert passes <hash>` (also `still-fails`
/// and `untested`), `revert conflicts <file> <file>…` (each file percent-encoded, so it holds no
/// space or "; ") or `revert failed`. The first part's free text (an abort's reason) and a
/// descent's note may hold "; " themselves, so the extras are recognised from the end by their
/// exact form, and anything else stays in the part before it.
public struct OutcomeText: Sendable, Hashable {
  /// What the first part says happened.
  public enum Kind: String, Sendable, Hashable, CaseIterable {
    case culprit
    case culpritAmong = "culprit-among"
    case noRegression = "no-regression"
    case contradiction
    case nothingToSearch = "nothing-to-search"
    case aborted
    /// Stopped, reset, or not finished.
    case stopped
  }

  /// `--descend`: the merge the first-parent search blamed.
  public struct Descent: Sendable, Hashable {
    public var merge: String
    /// Why the merge itself is the answer, when it is.
    public var note: String?

    public init(merge: String, note: String? = nil) {
      self.merge = merge
      self.note = note
    }
  }

  /// The probabilistic mode's answer.
  public struct Probability: Sendable, Hashable {
    /// The probability of the answer given: the culprit's, or that of "no regression".
    public var probability: Double
    public var runnerUp: String?
    public var runnerUpProbability: Double?
    /// `confident`, `no-regression`, `budget-spent`, `nothing-testable`.
    public var reason: String
    public var testRuns: Int
    /// Deploys spent (`N deploys`); nil in outcomes stored before it was.
    public var deploys: Int?
    /// The estimated share of failing runs from the culprit on and before it
    /// (`fails 0.4800 after 0.0200 before`).
    public var failsAfter: Double?
    public var failsBefore: Double?
    /// Failing runs and runs at the bad endpoint and at the good ones (`bad 5/11 good 0/6`).
    public var badEnd: RunTally?
    public var goodEnd: RunTally?

    public init(
      probability: Double, runnerUp: String? = nil, runnerUpProbability: Double? = nil, reason: String, testRuns: Int,
      deploys: Int? = nil, failsAfter: Double? = nil, failsBefore: Double? = nil,
      badEnd: RunTally? = nil, goodEnd: RunTally? = nil
    ) {
      self.probability = probability
      self.runnerUp = runnerUp
      self.runnerUpProbability = runnerUpProbability
      self.reason = reason
      self.testRuns = testRuns
      self.deploys = deploys
      self.failsAfter = failsAfter
      self.failsBefore = failsBefore
      self.badEnd = badEnd
      self.goodEnd = goodEnd
    }

    /// The text inside the brackets.
    var details: String {
      var parts = [reason, "\(testRuns) test runs"]
      if let deploys { parts.append("\(deploys) deploys") }
      if let failsAfter, let failsBefore {
        parts.append(String(format: "fails %.4f after %.4f before", failsAfter, failsBefore))
      }
      if let badEnd, let goodEnd {
        parts.append("bad \(badEnd.fails)/\(badEnd.runs) good \(goodEnd.fails)/\(goodEnd.runs)")
      }
      return parts.joined(separator: ", ")
    }
  }

  /// `--confirm-revert`: bad with the culprit reverted on top, and how its test went.
  public struct Revert: Sendable, Hashable {
    public enum Result: String, Sendable, Hashable, CaseIterable {
      /// The revert passes the smoke test: the culprit is the whole story.
      case passes
      /// The revert still fails: another change after the culprit breaks it too.
      case stillFails = "still-fails"
      /// The revert could not be deployed or tested (its step was skipped or aborted).
      case untested
      /// The revert conflicts: nothing was deployed.
      case conflicts
      /// The revert commit could not be made (a git error).
      case failed
    }
    public var result: Result
    /// The revert commit (not for `conflicts` and `failed`).
    public var commit: String?
    /// The files that conflict (`conflicts` only, never empty then).
    public var files: [String]

    /// The reference that keeps hunt `huntID`'s revert commit: `refs/bisect-deploy/revert/<hunt>`.
    public static func reference(hunt huntID: Int64) -> String { "refs/bisect-deploy/revert/\(huntID)" }

    public init(result: Result, commit: String? = nil, files: [String] = []) {
      self.result = result
      self.commit = commit
      self.files = files
    }
  }

  /// The first part, verbatim (e.g. "aborted: the deploy asked to stop; see the log").
  public var first: String
  public var kind: Kind
  /// The commits the first part names: the culprit, or the possible culprits (for a
  /// probabilistic `culprit-among`, the most likely first and the runner-up second).
  public var commits: [String]
  public var descent: Descent?
  public var probability: Probability?
  /// `--confirm N`: whether the answer held; nil when it was not confirmed.
  public var confirmationHolds: Bool?
  /// `--descend-deps`: what the search found for each pin the culprit changed, in order.
  public var dependencies: [Dependency] = []
  /// `--confirm-revert`: the revert proof; nil when none was made.
  public var revert: Revert?

  public init(_ text: String) {
    var revert: Revert?
    var confirmationHolds: Bool?
    var probability: Probability?
    var descent: Descent?
    var parts = text.components(separatedBy: "; ")
    if parts.count > 1, let last = parts.last, let found = Self.revert(last) {
      revert = found
      parts.removeLast()
    }
    if parts.count > 1, let last = parts.last, last.hasPrefix("confirm ") {
      switch last {
      case "confirm holds": confirmationHolds = true
      case "confirm does-not-hold": confirmationHolds = false
      default: break
      }
      if confirmationHolds != nil { parts.removeLast() }
    }
    if parts.count > 1, let last = parts.last, let found = Self.probability(last) {
      probability = found
      parts.removeLast()
    }
    var dependencies = [Dependency]()
    while parts.count > 1, let last = parts.last, let found = Dependency(stored: last) {
      dependencies.insert(found, at: 0)
      parts.removeLast()
    }
    // The earliest start that reads as a whole descent part: its note may hold "; ".
    if parts.count > 1 {
      for start in 1..<parts.count {
        if let found = Self.descent(parts[start...].joined(separator: "; ")) {
          descent = found
          parts.removeSubrange(start...)
          break
        }
      }
    }
    self.init(first: parts.joined(separator: "; "))
    self.descent = descent
    self.dependencies = dependencies
    self.probability = probability
    self.confirmationHolds = confirmationHolds
    self.revert = revert
  }

  /// An outcome to store: `first` as the hunt describes it, the extras set afterwards.
  public init(first: String) {
    self.first = first
    let words = first.split(separator: " ").map(String.init)
    commits = []
    // "contradiction: …" and "nothing-to-search: …" (older versions wrote no colon).
    var head = words.first ?? ""
    if head.hasSuffix(":") && head != "aborted:" { head.removeLast() }
    switch head {
    case "culprit":
      kind = .culprit
      commits = Array(words.dropFirst().prefix(1).filter(isObjectHash))
    case "culprit-among":
      kind = .culpritAmong
      commits = words.dropFirst().filter(isObjectHash)
    case "no-regression": kind = .noRegression
    case "contradiction": kind = .contradiction
    case "nothing-to-search": kind = .nothingToSearch
    case _ where first.hasPrefix("aborted:"): kind = .aborted
    default: kind = .stopped
    }
  }

  /// The text to store, which `init(_:)` reads back.
  public var text: String {
    var text = first
    if let descent {
      text += "; descend merge \(descent.merge)"
      if let note = descent.note { text += " (\(note))" }
    }
    for dependency in dependencies { text += "; " + dependency.text }
    if let probability {
      text += "; probability \(String(format: "%.4f", probability.probability))"
      if let runnerUp = probability.runnerUp, let chance = probability.runnerUpProbability {
        text += " runner-up \(runnerUp) \(String(format: "%.4f", chance))"
      }
      text += " (\(probability.details))"
    }
    if let confirmationHolds { text += "; confirm \(confirmationHolds ? "holds" : "does-not-hold")" }
    if let revert {
      text += "; revert \(revert.result.rawValue)"
      switch revert.result {
      case .passes, .stillFails, .untested: text += " \(revert.commit ?? "")"
      case .conflicts: text += revert.files.map { " " + Self.encodePath($0) }.joined()
      case .failed: break
      }
    }
    return text
  }

  /// "revert passes <hash>", "revert still-fails <hash>", "revert untested <hash>",
  /// "revert conflicts <file>…" or "revert failed", exactly.
  private static func revert(_ part: String) -> Revert? {
    let words = part.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
    guard words.count >= 2, words[0] == "revert", let result = Revert.Result(rawValue: words[1]) else { return nil }
    switch result {
    case .passes, .stillFails, .untested:
      guard words.count == 3, isObjectHash(words[2]) else { return nil }
      return Revert(result: result, commit: words[2])
    case .conflicts:
      guard words.count >= 3 else { return nil }
      var files = [String]()
      for word in words.dropFirst(2) {
        guard let path = decodePath(word) else { return nil }
        files.append(path)
      }
      return Revert(result: result, files: files)
    case .failed:
      return words.count == 2 ? Revert(result: .failed) : nil
    }
  }

  /// A path as one word: bytes other than letters, digits and `._-/+=@~,` as `%XX`.
  static func encodePath(_ path: String) -> String {
    var text = ""
    for byte in path.utf8 {
      if isPlainPathByte(byte) {
        text.unicodeScalars.append(Unicode.Scalar(byte))
      } else {
        text += String(format: "%%%02X", byte)
      }
    }
    return text
  }

  /// The path `encodePath` wrote, or nil when `word` is not exactly such a word (empty,
  /// another spelling, not UTF-8 once decoded).
  static func decodePath(_ word: String) -> String? {
    var bytes = [UInt8]()
    var iterator = Array(word.utf8).makeIterator()
    while let byte = iterator.next() {
      if byte == UInt8(ascii: "%") {
        guard let high = iterator.next(), let low = iterator.next(),
          let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
        else { return nil }
        bytes.append(value)
      } else if isPlainPathByte(byte) {
        bytes.append(byte)
      } else {
        return nil
      }
    }
    guard !bytes.isEmpty, let path = String(validating: bytes, as: UTF8.self) else { return nil }
    // One spelling only: what encodePath writes for it.
    return encodePath(path) == word ? path : nil
  }

  private static func isPlainPathByte(_ byte: UInt8) -> Bool {
    (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
      || "._-/+=@~,".utf8.contains(byte)
  }

  /// "descend merge <hash>" or "descend merge <hash> (<note>)".
  private static func descent(_ part: String) -> Descent? {
    let prefix = "descend merge "
    guard part.hasPrefix(prefix) else { return nil }
    let rest = part.dropFirst(prefix.count)
    let hash = String(rest.prefix { $0 != " " })
    guard isObjectHash(hash) else { return nil }
    let tail = rest.dropFirst(hash.count)
    if tail.isEmpty { return Descent(merge: hash, note: nil) }
    guard tail.hasPrefix(" ("), tail.hasSuffix(")"), tail.count >= 3 else { return nil }
    let note = String(tail.dropFirst(2).dropLast())
    return Descent(merge: hash, note: note.isEmpty ? nil : note)
  }

  /// "probability 0.9973 runner-up <hash> 0.0021 (confident, 23 test runs)", the runner-up optional.
  private static func probability(_ part: String) -> Probability? {
    let prefix = "probability "
    guard part.hasPrefix(prefix), part.hasSuffix(")") else { return nil }
    // " (" searched for after the prefix only: "probability (a, 1 test runs)" has its only
    // " (" inside the prefix (found by fuzzing: an inverted range trapped).
    let afterPrefix = part.index(part.startIndex, offsetBy: prefix.count)
    guard let open = part.range(of: " (", options: .backwards, range: afterPrefix..<part.endIndex) else {
      return nil
    }
    let head = part[afterPrefix..<open.lowerBound].split(separator: " ")
    let inside = part[open.upperBound..<part.index(before: part.endIndex)].components(separatedBy: ", ")
    guard inside.count >= 2, !inside[0].isEmpty, !inside[0].contains(" ") else { return nil }
    let unit = [" test runs", " test run"].first { inside[1].hasSuffix($0) }
    guard let unit, let runs = Int(inside[1].dropLast(unit.count)), runs >= 0 else { return nil }
    var extras = Probability(probability: 0, reason: "", testRuns: 0)
    for extra in inside.dropFirst(2) {
      let words = extra.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
      if words.count == 2, words[1] == "deploys", let count = Int(words[0]), count >= 0, extras.deploys == nil {
        extras.deploys = count
      } else if words.count == 5, words[0] == "fails", words[2] == "after", words[4] == "before",
        let after = probabilityValue(Substring(words[1])), let before = probabilityValue(Substring(words[3])),
        extras.failsAfter == nil
      {
        (extras.failsAfter, extras.failsBefore) = (after, before)
      } else if words.count == 4, words[0] == "bad", words[2] == "good", let bad = Self.tally(words[1]),
        let good = Self.tally(words[3]), extras.badEnd == nil
      {
        (extras.badEnd, extras.goodEnd) = (bad, good)
      } else {
        return nil
      }
    }
    guard let chance = probabilityValue(head.first) else { return nil }
    var found = Probability(
      probability: chance, reason: inside[0], testRuns: runs, deploys: extras.deploys, failsAfter: extras.failsAfter,
      failsBefore: extras.failsBefore, badEnd: extras.badEnd, goodEnd: extras.goodEnd)
    switch head.count {
    case 1: break
    case 4:
      guard head[1] == "runner-up", isObjectHash(String(head[2])), let second = probabilityValue(head[3]) else {
        return nil
      }
      found.runnerUp = String(head[2])
      found.runnerUpProbability = second
    default: return nil
    }
    return found
  }

  /// "5/11": failing runs among runs.
  private static func tally(_ text: String) -> RunTally? {
    let halves = text.split(separator: "/", omittingEmptySubsequences: false)
    guard halves.count == 2, let fails = Int(halves[0]), let runs = Int(halves[1]), fails >= 0, runs >= fails else {
      return nil
    }
    return RunTally(fails: fails, runs: runs)
  }

  private static func probabilityValue(_ text: Substring?) -> Double? {
    guard let text, let value = Double(text), value >= 0, value <= 1 else { return nil }
    return value
  }
}

extension OutcomeText {
  /// `--descend-deps`: one pin the culprit changed and what the search inside the dependency
  /// found, stored as `dependency <name> <old> <new> <result>`:
  ///
  /// - `<name>` in letters, digits, `.`, `_` and `-`; `<old>` and `<new>` as the pins read,
  ///   percent-encoded outside `A-Z a-z 0-9 . _ ~ + / : @ = , -`, `-` for none (a pin the
  ///   culprit adds has no old revision);
  /// - `<result>`: `culprit <hash>` then optionally ` version <version>` (encoded as a
  ///   revision), ` merge <hash>` (the pull request's merge) and ` (<note>)`;
  ///   `merge <hash> (<note>)` (with `--descend`, the merge is the answer);
  ///   `not-the-cause (<note>)`, `not-descended (<note>)`, `inconclusive (<note>)`. A note is
  ///   never empty; in it `%`, `;` and control characters are percent-encoded, so that the
  ///   part never holds "; ".
  public struct Dependency: Sendable, Hashable {
    public enum Result: Sendable, Hashable {
      case culprit(commit: String, version: String?, merge: String?, note: String?)
      case merge(String, note: String)
      case notTheCause(String)
      case notDescended(String)
      case inconclusive(String)
    }

    public var name: String
    /// Nil when the culprit adds the pin.
    public var old: String?
    public var new: String
    public var result: Result

    /// An empty revision is stored as none (`-`).
    public init(name: String, old: String?, new: String, result: Result) {
      self.name = name
      self.old = old?.isEmpty == true ? nil : old
      self.new = new
      self.result = result
    }

    /// The part to store.
    public var text: String {
      var text = "dependency \(name) \(Self.encode(old ?? "")) \(Self.encode(new)) "
      switch result {
      case .culprit(let commit, let version, let merge, let note):
        text += "culprit \(commit)"
        if let version { text += " version \(Self.encode(version))" }
        if let merge { text += " merge \(merge)" }
        if let note, !note.isEmpty { text += " (\(Self.encodeNote(note)))" }
      case .merge(let merge, let note): text += "merge \(merge) (\(Self.encodeNote(note)))"
      case .notTheCause(let note): text += "not-the-cause (\(Self.encodeNote(note)))"
      case .notDescended(let note): text += "not-descended (\(Self.encodeNote(note)))"
      case .inconclusive(let note): text += "inconclusive (\(Self.encodeNote(note)))"
      }
      return text
    }

    /// Reads a stored part back; nil unless all of it has exactly this form.
    public init?(stored part: String) {
      // Words hold no space and no "(": the first " (" starts the note, which runs to the end.
      let bytes = Array(part.utf8)
      var head = bytes[...]
      var note: String?
      if let open = bytes.indices.dropLast().first(where: { bytes[$0] == 0x20 && bytes[$0 + 1] == 0x28 }) {
        head = bytes[..<open]
        let tail = bytes[(open + 2)...]
        guard tail.count >= 2, tail.last == 0x29,
          let text = Self.percentDecoded(tail.dropLast(), raw: Self.isNoteByte), !text.isEmpty
        else { return nil }
        note = text
      }
      let words = head.split(separator: 0x20, omittingEmptySubsequences: false).map {
        String(decoding: $0, as: UTF8.self)
      }
      guard words.count >= 5, words[0] == "dependency", !words[1].isEmpty,
        words[1].utf8.allSatisfy(Self.isNameByte), let old = Self.decode(words[2]), let new = Self.decode(words[3])
      else { return nil }
      let result: Result
      switch (words[4], note) {
      case ("culprit", _):
        guard words.count >= 6, isObjectHash(words[5]) else { return nil }
        var rest = words.dropFirst(6)
        var version: String?
        var merge: String?
        if rest.first == "version" {
          guard rest.count >= 2, let decoded = Self.decode(rest[rest.startIndex + 1]), !decoded.isEmpty else {
            return nil
          }
          version = decoded
          rest = rest.dropFirst(2)
        }
        if rest.first == "merge" {
          guard rest.count >= 2, isObjectHash(rest[rest.startIndex + 1]) else { return nil }
          merge = rest[rest.startIndex + 1]
          rest = rest.dropFirst(2)
        }
        guard rest.isEmpty else { return nil }
        result = .culprit(commit: words[5], version: version, merge: merge, note: note)
      case ("merge", .some(let note)):
        guard words.count == 6, isObjectHash(words[5]) else { return nil }
        result = .merge(words[5], note: note)
      case ("not-the-cause", .some(let note)) where words.count == 5: result = .notTheCause(note)
      case ("not-descended", .some(let note)) where words.count == 5: result = .notDescended(note)
      case ("inconclusive", .some(let note)) where words.count == 5: result = .inconclusive(note)
      default:
        return nil
      }
      self.init(name: words[1], old: old.isEmpty ? nil : old, new: new, result: result)
    }

    /// Bytes a note keeps as they are: printable, not `;` (and `%` only to encode).
    private static func isNoteByte(_ byte: UInt8) -> Bool {
      byte >= 0x20 && byte != 0x7F && byte != 0x3B && byte != 0x25
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
      (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
        || byte == 0x2E || byte == 0x5F || byte == 0x2D
    }

    /// Bytes a revision keeps as they are.
    private static func isRevisionByte(_ byte: UInt8) -> Bool {
      isNameByte(byte) || [0x7E, 0x2B, 0x2F, 0x3A, 0x40, 0x3D, 0x2C].contains(byte)
    }

    static func encode(_ revision: String) -> String {
      if revision.isEmpty { return "-" }
      if revision == "-" { return "%2D" }
      return percentEncoded(revision, keeps: isRevisionByte)
    }

    static func decode(_ word: String) -> String? {
      if word == "-" { return "" }
      guard !word.isEmpty else { return nil }
      return percentDecoded(Array(word.utf8)[...], raw: isRevisionByte)
    }

    static func encodeNote(_ note: String) -> String {
      percentEncoded(note, keeps: isNoteByte)
    }

    private static func percentEncoded(_ text: String, keeps: (UInt8) -> Bool) -> String {
      let digits = Array("0123456789ABCDEF".utf8)
      var bytes = [UInt8]()
      for byte in text.utf8 {
        if keeps(byte) {
          bytes.append(byte)
        } else {
          bytes += [0x25, digits[Int(byte >> 4)], digits[Int(byte & 0xF)]]
        }
      }
      return String(decoding: bytes, as: UTF8.self)
    }

    /// `%XX` sequences decoded, other bytes only those `raw` allows; nil for anything else
    /// or bytes that are not UTF-8.
    private static func percentDecoded(_ bytes: ArraySlice<UInt8>, raw: (UInt8) -> Bool) -> String? {
      var out = [UInt8]()
      var index = bytes.startIndex
      while index < bytes.endIndex {
        let byte = bytes[index]
        if byte == 0x25 {
          guard index + 2 < bytes.endIndex, let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
          else { return nil }
          out.append(high << 4 | low)
          index += 3
        } else {
          guard raw(byte) else { return nil }
          out.append(byte)
          index += 1
        }
      }
      return String(validating: out, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
      switch byte {
      case 0x30...0x39: byte - 0x30
      case 0x41...0x46: byte - 0x37
      case 0x61...0x66: byte - 0x57
      default: nil
      }
    }
  }
}

/// 40 (SHA-1) or 64 (SHA-256) hexadecimal digits.
func isObjectHash(_ text: String) -> Bool {
  (text.utf8.count == 40 || text.utf8.count == 64)
    && text.utf8.allSatisfy { byte in
      (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte) || (0x41...0x46).contains(byte)
    }
}
