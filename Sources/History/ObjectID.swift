/// The 20-byte SHA-1 name of a git object, as a plain value that crosses tasks freely.
///
/// Stored as three integers so that hashing and comparing are cheap on graphs of
/// hundreds of thousands of commits.
public struct ObjectID: Hashable, Comparable, Sendable, CustomStringConvertible {
  /// The number of raw bytes in an id.
  public static let byteCount = 20

  private let high: UInt64
  private let middle: UInt64
  private let low: UInt32

  /// Makes an id from its bytes read as three big-endian words (8, 8 and 4 bytes): the fast
  /// path for the libgit2 layer, which walks hundreds of thousands of ids.
  package init(high: UInt64, middle: UInt64, low: UInt32) {
    self.high = high
    self.middle = middle
    self.low = low
  }

  /// The three words of `init(high:middle:low:)`, for the libgit2 layer's copies.
  package var words: (high: UInt64, middle: UInt64, low: UInt32) { (high, middle, low) }

  /// The first byte, without making the byte array (the commit-graph's fan-out index).
  package var leadingByte: UInt8 { UInt8(truncatingIfNeeded: high >> 56) }

  /// Makes an id from exactly 20 raw bytes; returns nil for any other count.
  public init?<Bytes: Collection>(bytes: Bytes) where Bytes.Element == UInt8 {
    guard bytes.count == Self.byteCount else { return nil }
    var high: UInt64 = 0
    var middle: UInt64 = 0
    var low: UInt32 = 0
    for (offset, byte) in bytes.enumerated() {
      switch offset {
      case 0..<8: high = high << 8 | UInt64(byte)
      case 8..<16: middle = middle << 8 | UInt64(byte)
      default: low = low << 8 | UInt32(byte)
      }
    }
    self.high = high
    self.middle = middle
    self.low = low
  }

  /// Makes an id from its 40 hexadecimal digits (either case); returns nil for anything else.
  public init?(hex: some StringProtocol) {
    let utf8 = Array(hex.utf8)
    guard utf8.count == Self.byteCount * 2 else { return nil }
    var bytes = [UInt8]()
    bytes.reserveCapacity(Self.byteCount)
    var index = 0
    while index < utf8.count {
      guard let upper = Self.nibble(utf8[index]), let lower = Self.nibble(utf8[index + 1]) else {
        return nil
      }
      bytes.append(upper << 4 | lower)
      index += 2
    }
    self.init(bytes: bytes)
  }

  /// The 20 raw bytes, most significant first.
  public var bytes: [UInt8] {
    var result = [UInt8]()
    result.reserveCapacity(Self.byteCount)
    for shift in stride(from: 56, through: 0, by: -8) {
      result.append(UInt8(truncatingIfNeeded: high >> UInt64(shift)))
    }
    for shift in stride(from: 56, through: 0, by: -8) {
      result.append(UInt8(truncatingIfNeeded: middle >> UInt64(shift)))
    }
    for shift in stride(from: 24, through: 0, by: -8) { result.append(UInt8(truncatingIfNeeded: low >> UInt32(shift))) }
    return result
  }

  /// The 40 lowercase hexadecimal digits.
  public var hex: String {
    let digits = Array("0123456789abcdef".utf8)
    var text = [UInt8]()
    text.reserveCapacity(Self.byteCount * 2)
    for byte in bytes {
      text.append(digits[Int(byte >> 4)])
      text.append(digits[Int(byte & 0xF)])
    }
    return String(decoding: text, as: UTF8.self)
  }

  /// The first `length` hexadecimal digits, as people abbreviate a commit.
  public func short(_ length: Int = 7) -> String {
    String(hex.prefix(max(4, min(length, Self.byteCount * 2))))
  }

  public var description: String { hex }

  /// SHA-1 bits are already uniform: hashing one word is enough and keeps large
  /// dictionaries of ids cheap.
  public func hash(into hasher: inout Hasher) {
    hasher.combine(high)
  }

  public static func < (lhs: ObjectID, rhs: ObjectID) -> Bool {
    (lhs.high, lhs.middle, lhs.low) < (rhs.high, rhs.middle, rhs.low)
  }

  private static func nibble(_ character: UInt8) -> UInt8? {
    switch character {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
    default: nil
    }
  }
}
