import Foundation

/// Turns a commit's text (message, summary, author and committer) into Strings: UTF-8, unless
/// the commit's `encoding` header names another encoding (git's `i18n.commitEncoding`). git
/// writes the names and emails in the same encoding as the message, and re-encodes all of
/// them for display; so do we.
struct CommitText {
  /// Nil: UTF-8, invalid bytes replaced by U+FFFD.
  let encoding: String.Encoding?

  /// `header` is the value of the commit's `encoding` header, nil when it has none. Names we
  /// do not know are read as UTF-8, as git does when iconv does not know them either.
  init(header: String?) {
    encoding = header.flatMap(Self.encoding(named:))
  }

  /// The text of a NUL-terminated C string from libgit2; "" for NULL. Bytes that are not
  /// valid in the commit's encoding make the whole text fall back to UTF-8.
  func string(_ text: UnsafePointer<CChar>?) -> String {
    guard let text else { return "" }
    return string(
      UnsafeBufferPointer(start: UnsafeRawPointer(text).assumingMemoryBound(to: UInt8.self), count: strlen(text)))
  }

  /// The text of `bytes` (a C string's, without its zero byte), as `string(_:)` reads it.
  func string(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
    if let encoding, let decoded = String(bytes: bytes, encoding: encoding) { return decoded }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// The encoding for a name as git users write it ("latin1", "ISO-8859-15", "cp1252",
  /// "Shift_JIS"), compared without case, dashes or underscores. Nil for UTF-8 and for
  /// names not known here.
  ///
  /// Only encodings in which the bytes of a space or a newline never occur inside another
  /// character are listed (UTF-16 is not): libgit2 cuts the summary out of the message by
  /// those bytes, and C strings end at the first zero byte.
  static func encoding(named name: String) -> String.Encoding? {
    let key = String(name.lowercased().filter { $0.isLetter || $0.isNumber })
    switch key {
    case "utf8": return nil
    case "iso88591", "latin1", "l1": return .isoLatin1
    case "iso88592", "latin2", "l2": return .isoLatin2
    case "latin3": return isoLatin(3)
    case "latin4": return isoLatin(4)
    case "latin5": return isoLatin(9)
    case "latin6": return isoLatin(10)
    case "latin7": return isoLatin(13)
    case "latin8": return isoLatin(14)
    case "latin9": return isoLatin(15)
    case "latin10": return isoLatin(16)
    case "windows1250", "cp1250": return .windowsCP1250
    case "windows1251", "cp1251": return .windowsCP1251
    case "windows1252", "cp1252": return .windowsCP1252
    case "windows1253", "cp1253": return .windowsCP1253
    case "windows1254", "cp1254": return .windowsCP1254
    case "windows1255", "cp1255": return foundationEncoding(0x0505)
    case "windows1256", "cp1256": return foundationEncoding(0x0506)
    case "windows1257", "cp1257": return foundationEncoding(0x0507)
    case "windows1258", "cp1258": return foundationEncoding(0x0508)
    case "shiftjis", "sjis", "mskanji", "windows31j", "cp932": return .shiftJIS
    // Foundation on Linux cannot decode EUC-JP: such text falls back to UTF-8 there.
    case "eucjp": return .japaneseEUC
    case "iso2022jp": return .iso2022JP
    case "koi8r": return foundationEncoding(0x0A02)
    case "koi8u": return foundationEncoding(0x0A08)
    default:
      if key.hasPrefix("iso8859"), let part = Int(key.dropFirst(7)), (3...16).contains(part), part != 12 {
        return isoLatin(part)
      }
      return nil
    }
  }

  /// ISO-8859-`part`, which Foundation has no named constant for beyond part 2.
  private static func isoLatin(_ part: Int) -> String.Encoding {
    foundationEncoding(0x0200 + UInt(part))
  }

  /// A CoreFoundation encoding number as Foundation takes it (the high bit marks it), the
  /// way `CFStringConvertEncodingToNSStringEncoding` maps it; Linux does not export that call.
  private static func foundationEncoding(_ coreFoundation: UInt) -> String.Encoding {
    String.Encoding(rawValue: 0x8000_0000 | coreFoundation)
  }
}
