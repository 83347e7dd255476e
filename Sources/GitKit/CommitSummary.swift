/// A commit's summary cut from its raw object, byte for byte as libgit2 1.5.1's
/// `git_commit_summary` cuts it, so that a listing can take it from the read the walk already
/// made instead of reading and parsing every commit a second time (`RangeSummaryTests` holds
/// the two side by side on awkward messages).
///
/// libgit2's rules: the message starts after the blank line that ends the header and stops at
/// a zero byte; leading newlines are dropped; the summary is the first paragraph, which ends
/// at the end of the message, at an empty line or at a line of only blanks; inside it each run
/// of blanks that holds a newline becomes one space, other runs are kept as they are, and a
/// trailing run is dropped.
enum CommitSummary {
  /// Appends the summary of the commit `raw` to `output` and gives the value of its
  /// `encoding` header, nil when it has none.
  ///
  /// - Parameter headerEnd: where the header lines after the `committer` line start (or the
  ///   blank line, when the commit has none); `ObjectDatabase.parseHeader` gives it.
  static func append(
    of raw: UnsafeRawBufferPointer, headerEnd: Int, to output: inout [UInt8]
  ) -> String? {
    let newline = UInt8(ascii: "\n")
    let end = raw.count
    // The other header lines, up to the blank line; `encoding` is the only one that counts.
    var position = max(headerEnd, 1)
    var encoding: String?
    while position < end {
      if raw[position - 1] == newline && raw[position] == newline { break }
      let lineEnd = ObjectDatabase.lineEnd(in: raw, from: position)
      if ObjectDatabase.has("encoding ", in: raw, at: position) {
        var valueEnd = position + 9
        while valueEnd < lineEnd && raw[valueEnd] != 0 { valueEnd += 1 }
        encoding = String(decoding: raw[(position + 9)..<valueEnd], as: UTF8.self)
      }
      position = lineEnd < end ? lineEnd + 1 : lineEnd
    }
    // The message, after the blank line's newline, to the first zero byte.
    var cursor = position + 1
    guard cursor <= end else { return encoding }
    var messageEnd = cursor
    while messageEnd < end && raw[messageEnd] != 0 { messageEnd += 1 }
    while cursor < messageEnd && raw[cursor] == newline { cursor += 1 }

    var blankRun = -1
    var runHasNewline = false
    while cursor < messageEnd {
      let byte = raw[cursor]
      if byte == newline {
        // The paragraph ends at the message's end, an empty line or a line of blanks.
        var next = cursor + 1
        if next == messageEnd || raw[next] == newline { break }
        while next < messageEnd && isBlankNotNewline(raw[next]) { next += 1 }
        if next == messageEnd || raw[next] == newline { break }
      }
      if byte == newline || isBlankNotNewline(byte) {
        if blankRun < 0 {
          blankRun = cursor
          runHasNewline = false
        }
        runHasNewline = runHasNewline || byte == newline
      } else {
        if blankRun >= 0 {
          if runHasNewline {
            output.append(UInt8(ascii: " "))
          } else {
            output.append(contentsOf: raw[blankRun..<cursor])
          }
          blankRun = -1
        }
        output.append(byte)
      }
      cursor += 1
    }
    return encoding
  }

  /// libgit2's `git__isspace_nonlf`: space, tab, carriage return, vertical tab, form feed.
  @inline(__always)
  private static func isBlankNotNewline(_ byte: UInt8) -> Bool {
    byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0B || byte == 0x0C
  }
}
