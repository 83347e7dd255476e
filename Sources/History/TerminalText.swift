/// Repository data (subjects, author names, paths, branch names) and command output are
/// written by other people. Printed raw, an escape sequence in a commit subject could retitle
/// the terminal, clear it, or hide text. Everything the tool prints for people goes through
/// `terminalSafe`, which shows control characters the way `cat -v` and git's pager users see
/// them instead of sending them. JSON output keeps them, escaped by the encoder (`\u001b`).
extension String {
  /// The text with every control character made visible: C0 controls in caret notation
  /// (ESC as `^[`, BEL as `^G`, CR as `^M`), DEL as `^?`, C1 controls as `M-^[`-style (as
  /// `cat -v`), and the bidirectional overrides that reorder what is shown as `<U+202E>`.
  /// Tabs stay; newlines stay when `keepingNewlines`, else they show as `^J`.
  public func terminalSafe(keepingNewlines: Bool = false) -> String {
    // Most text is printable ASCII: one pass over its bytes shows it needs no change.
    let plain = utf8.withContiguousStorageIfAvailable { bytes in
      bytes.allSatisfy { ($0 >= 0x20 && $0 < 0x7F) || $0 == 0x09 || ($0 == 0x0A && keepingNewlines) }
    }
    if plain == true { return self }
    // Otherwise scan its scalars once before building a copy.
    guard unicodeScalars.contains(where: { Self.needsEscape($0, keepingNewlines: keepingNewlines) }) else {
      return self
    }
    var result = ""
    result.reserveCapacity(utf8.count + 8)
    for scalar in unicodeScalars {
      guard Self.needsEscape(scalar, keepingNewlines: keepingNewlines) else {
        result.unicodeScalars.append(scalar)
        continue
      }
      switch scalar.value {
      case 0x00..<0x20: result += "^" + String(UnicodeScalar(UInt8(scalar.value + 0x40)))
      case 0x7F: result += "^?"
      case 0x80..<0xA0: result += "M-^" + String(UnicodeScalar(UInt8(scalar.value - 0x80 + 0x40)))
      default: result += "<U+" + String(scalar.value, radix: 16, uppercase: true) + ">"
      }
    }
    return result
  }

  private static func needsEscape(_ scalar: Unicode.Scalar, keepingNewlines: Bool) -> Bool {
    switch scalar.value {
    case 0x09: false
    case 0x0A: !keepingNewlines
    case 0x00..<0x20, 0x7F, 0x80..<0xA0: true
    // Bidirectional embeddings, overrides and isolates ("Trojan Source").
    case 0x202A...0x202E, 0x2066...0x2069: true
    default: false
    }
  }
}
