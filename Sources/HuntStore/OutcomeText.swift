import Foundation

/// A hunt's stored outcome (`HuntRecord.outcome`): the one place that writes and reads that
/// text (hunts write it, reports and `log` read it).
///
/// The text is a first part ("culprit <hash>", "culprit-among <hash> <hash>…", "no-regression",
/// "contradiction …", "nothing-to-search …", "aborted: …", "stopped …", "reset"), then optional
/// extra parts after "; ", in this order: `descend merge <hash> (<note>)`,
/// `probability 0.9973 runner-up <hash> 0.0021 (confident, 23 test runs)` and
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
    public var probability: Double
    public var runnerUp: String?
    public var runnerUpProbability: Double?
    /// `confident`, `budget-spent`, `nothing-testable`.
    public var reason: String
    public var testRuns: Int

    public init(
      probability: Double, runnerUp: String? = nil, runnerUpProbability: Double? = nil, reason: String, testRuns: Int
    ) {
      self.probability = probability
      self.runnerUp = runnerUp
      self.runnerUpProbability = runnerUpProbability
      self.reason = reason
      self.testRuns = testRuns
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
    if let probability {
      text += "; probability \(String(format: "%.4f", probability.probability))"
      if let runnerUp = probability.runnerUp, let chance = probability.runnerUpProbability {
        text += " runner-up \(runnerUp) \(String(format: "%.4f", chance))"
      }
      text += " (\(probability.reason), \(probability.testRuns) test runs)"
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
    guard inside.count == 2, !inside[0].isEmpty, !inside[0].contains(" ") else { return nil }
    let unit = [" test runs", " test run"].first { inside[1].hasSuffix($0) }
    guard let unit, let runs = Int(inside[1].dropLast(unit.count)), runs >= 0 else { return nil }
    guard let chance = probabilityValue(head.first) else { return nil }
    var found = Probability(probability: chance, reason: inside[0], testRuns: runs)
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

  private static func probabilityValue(_ text: Substring?) -> Double? {
    guard let text, let value = Double(text), value >= 0, value <= 1 else { return nil }
    return value
  }
}

/// 40 (SHA-1) or 64 (SHA-256) hexadecimal digits.
func isObjectHash(_ text: String) -> Bool {
  (text.utf8.count == 40 || text.utf8.count == 64)
    && text.utf8.allSatisfy { byte in
      (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte) || (0x41...0x46).contains(byte)
    }
}
