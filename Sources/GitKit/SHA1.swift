/// SHA-1 (FIPS 180-4), written here because the commit-graph reader checks every file's
/// trailing checksum on each load and the libgit2 layer has no hashing API of its own that
/// takes a plain buffer. Only checksums use it: not a security boundary.
package enum SHA1 {
  /// The 20-byte digest of `data`.
  package static func digest(_ data: UnsafeRawBufferPointer) -> [UInt8] {
    var state: (UInt32, UInt32, UInt32, UInt32, UInt32) = (
      0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0
    )
    let whole = data.count / 64 * 64
    if let base = data.baseAddress {
      var offset = 0
      while offset < whole {
        compress(&state, block: base + offset)
        offset += 64
      }
    }
    // The tail, a 0x80 byte, zeros, and the length in bits: one or two more blocks.
    var tail = [UInt8](repeating: 0, count: 128)
    let rest = data.count - whole
    for index in 0..<rest { tail[index] = data[whole + index] }
    tail[rest] = 0x80
    let blocks = rest + 9 <= 64 ? 1 : 2
    let bits = UInt64(data.count) &* 8
    for index in 0..<8 { tail[blocks * 64 - 1 - index] = UInt8(truncatingIfNeeded: bits >> (8 * UInt64(index))) }
    tail.withUnsafeBytes { raw in
      guard let base = raw.baseAddress else { return }
      for block in 0..<blocks { compress(&state, block: base + block * 64) }
    }
    var digest = [UInt8]()
    digest.reserveCapacity(20)
    for word in [state.0, state.1, state.2, state.3, state.4] {
      digest.append(UInt8(truncatingIfNeeded: word >> 24))
      digest.append(UInt8(truncatingIfNeeded: word >> 16))
      digest.append(UInt8(truncatingIfNeeded: word >> 8))
      digest.append(UInt8(truncatingIfNeeded: word))
    }
    return digest
  }

  @inline(__always)
  private static func rotate(_ value: UInt32, _ count: UInt32) -> UInt32 {
    value << count | value >> (32 &- count)
  }

  /// One 64-byte block. The message schedule is a ring of 16 words on the stack, so that
  /// no heap memory is touched per block.
  @inline(__always)
  private static func compress(_ state: inout (UInt32, UInt32, UInt32, UInt32, UInt32), block: UnsafeRawPointer) {
    withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 16) { schedule in
      for index in 0..<16 {
        schedule[index] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self))
      }
      var a = state.0
      var b = state.1
      var c = state.2
      var d = state.3
      var e = state.4
      // Four stages of twenty rounds, each with its own mixing function and constant.
      @inline(__always)
      func word(_ round: Int) -> UInt32 {
        if round < 16 { return schedule[round] }
        let mixed =
          schedule[(round &- 3) & 15] ^ schedule[(round &- 8) & 15] ^ schedule[(round &- 14) & 15]
          ^ schedule[round & 15]
        let value = rotate(mixed, 1)
        schedule[round & 15] = value
        return value
      }
      @inline(__always)
      func step(_ mix: UInt32, _ constant: UInt32, _ round: Int) {
        let next = rotate(a, 5) &+ mix &+ e &+ constant &+ word(round)
        e = d
        d = c
        c = rotate(b, 30)
        b = a
        a = next
      }
      for round in 0..<20 { step((b & c) | (~b & d), 0x5A82_7999, round) }
      for round in 20..<40 { step(b ^ c ^ d, 0x6ED9_EBA1, round) }
      for round in 40..<60 { step((b & c) | (b & d) | (c & d), 0x8F1B_BCDC, round) }
      for round in 60..<80 { step(b ^ c ^ d, 0xCA62_C1D6, round) }
      state.0 &+= a
      state.1 &+= b
      state.2 &+= c
      state.3 &+= d
      state.4 &+= e
    }
  }
}
