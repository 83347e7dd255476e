import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The default cap on one command's log: 10 MiB.
public let defaultLogLimit = 10 * 1024 * 1024

/// The values that must not stay in a log: those of the variables `isSecretVariableName`
/// flags, eight characters or longer (shorter ones, like `XDG_SESSION_CLASS=user`, are not
/// secrets worth blanking every ordinary word for), longest first so that a secret
/// containing another is replaced whole.
public func secretValues(in environment: [String: String]) -> [String] {
  Set(environment.filter { isSecretVariableName($0.key) && $0.value.utf8.count >= 8 }.values)
    .sorted { $0.utf8.count > $1.utf8.count || ($0.utf8.count == $1.utf8.count && $0 < $1) }
}

/// Keeps a command's log within a size and free of secrets. The command writes straight to
/// the file (no pipe: a daemon started by a deploy may hold its output open forever), so the
/// runner trims the file while the command runs and rewrites it once at the end.
package struct LogKeeper {
  package let url: URL
  /// Bytes the log may hold; nil for no limit.
  package let limit: Int?
  package let secrets: [[UInt8]]
  /// Where the note about dropped output starts, once the log was first trimmed.
  private var cutAt: Int?
  private var dropped = 0

  package init(url: URL, limit: Int?, secrets: [String]) {
    self.url = url
    self.limit = limit.map { max($0, 4096) }
    // Longer than the mask `***`, which the in-place rewrite relies on.
    self.secrets = secrets.map { Array($0.utf8) }.filter { $0.count > 3 }
  }

  /// The note between the head and the tail, of a fixed width so that later trims rewrite it
  /// in place.
  private func note(dropped: Int) -> [UInt8] {
    let count = String(dropped)
    let padded = String(repeating: " ", count: max(0, 15 - count.count)) + count
    return Array(
      "\n[bisect-deploy: the log passed its limit of \(limit ?? 0) bytes; \(padded) bytes of output were dropped here]\n"
        .utf8)
  }

  /// Trims the log to its limit when it grew past it: the first half (the command line and
  /// the start of the output) stays, then a note of how much was dropped, then the newest
  /// output. Called between polls of the command, so the file exceeds the limit by at most
  /// what the command writes in one poll; what the command writes during the trim itself is
  /// lost (and counted in the note).
  package mutating func enforceLimit() {
    guard let limit, let (fd, size) = openLog() else { return }
    defer { close(fd) }
    guard size > limit else { return }
    // Trimmed to about half the limit (a quarter for the start, a quarter for the newest
    // output), so that the next trim comes only after another half of the limit: the copying
    // costs about half of what the command writes, not the limit at every poll.
    let head = cutAt ?? limit / 4
    let marker = note(dropped: 0)
    let keep = max(0, limit / 4 - marker.count)
    let previous = cutAt == nil ? 0 : marker.count
    let tailStart = max(head + previous, size - keep)
    var tail = [UInt8](repeating: 0, count: size - tailStart)
    guard readFully(fd, into: &tail, at: tailStart) else { return }
    dropped += tailStart - head - previous
    cutAt = head
    var replacement = note(dropped: dropped)
    replacement += tail
    guard writeFully(fd, replacement, at: head) else { return }
    // What the command wrote since the size was read is cut by the truncation: counted as
    // dropped, so that the note stays true.
    var info = stat()
    if fstat(fd, &info) == 0, Int(info.st_size) > size {
      dropped += Int(info.st_size) - size
      _ = writeFully(fd, note(dropped: dropped), at: head)
    }
    _ = ftruncate(fd, off_t(head + replacement.count))
  }

  /// Replaces every secret value in the log by `***`, reading it in pieces so that memory
  /// stays small whatever the log's size. The file is rewritten only when a secret is there.
  package func redact() {
    guard !secrets.isEmpty, let longest = secrets.map(\.count).max(), let (fd, size) = openLog() else { return }
    defer { close(fd) }
    let piece = max(1 << 20, longest * 4)
    // Pass 1: is any secret there? Pieces overlap by the longest secret less one byte.
    var found = false
    var offset = 0
    while offset < size, !found {
      let count = min(piece + longest - 1, size - offset)
      var bytes = [UInt8](repeating: 0, count: count)
      guard readFully(fd, into: &bytes, at: offset) else { return }
      found = secrets.contains { bytes.firstRange(of: $0) != nil }
      offset += piece
    }
    guard found else { return }
    // Pass 2: rewrite the file in place. `***` is shorter than every secret, so what is written
    // never overtakes what is still to be read; the file keeps its inode, so a server the
    // deploy left running keeps writing where the log is read.
    var written = 0
    var carry = [UInt8]()
    offset = 0
    var ok = true
    while offset < size || !carry.isEmpty {
      let count = min(piece, size - offset)
      var bytes = [UInt8](repeating: 0, count: count)
      if count > 0 { ok = ok && readFully(fd, into: &bytes, at: offset) }
      offset += count
      var text = carry + bytes
      for secret in secrets { text = replacing(secret, in: text) }
      // Keep the last bytes back: a secret may continue in the next piece.
      let hold = offset < size ? min(text.count, longest - 1) : 0
      let ready = Array(text[..<(text.count - hold)])
      carry = Array(text[(text.count - hold)...])
      ok = ok && writeFully(fd, ready, at: written)
      written += ready.count
    }
    if ok { _ = ftruncate(fd, off_t(written)) }
  }

  /// The log opened for reading and writing, with its size; the caller closes it.
  private func openLog() -> (descriptor: Int32, size: Int)? {
    let fd = open(url.path, O_RDWR | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
      close(fd)
      return nil
    }
    return (fd, Int(info.st_size))
  }

  private func replacing(_ secret: [UInt8], in text: [UInt8]) -> [UInt8] {
    guard text.firstRange(of: secret) != nil else { return text }
    var result = [UInt8]()
    result.reserveCapacity(text.count)
    var index = 0
    let mask = Array("***".utf8)
    while index < text.count {
      if text.count - index >= secret.count, text[index..<(index + secret.count)].elementsEqual(secret) {
        result += mask
        index += secret.count
      } else {
        result.append(text[index])
        index += 1
      }
    }
    return result
  }
}

private func readFully(_ fd: Int32, into bytes: inout [UInt8], at offset: Int) -> Bool {
  bytes.withUnsafeMutableBytes { buffer in
    untilDone(buffer.count) { done in pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done)) }
  }
}

private func writeFully(_ fd: Int32, _ bytes: [UInt8], at offset: Int) -> Bool {
  bytes.withUnsafeBytes { buffer in
    untilDone(buffer.count) { done in pwrite(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
    }
  }
}

/// Calls `transfer` (a pread or pwrite of what is left after `done` bytes) until `count`
/// bytes moved; false when it fails or moves nothing (end of file, full disk).
private func untilDone(_ count: Int, _ transfer: (_ done: Int) -> Int) -> Bool {
  var done = 0
  while done < count {
    let moved = transfer(done)
    if moved < 0 && errno == EINTR { continue }
    guard moved > 0 else { return false }
    done += moved
  }
  return true
}
