import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The last `lines` lines of the log at `url`, to show under a failed step's message.
///
/// Reads at most the last `maxBytes` bytes, so a huge log costs little; when that cut falls
/// inside a line, the first line returned is its end. Lines are joined with "\n" and the
/// result has no trailing newline. Invalid UTF-8 is replaced, not rejected. A missing or
/// unreadable file gives "" (the caller is already reporting a failure).
public func logTail(_ url: URL, lines: Int, maxBytes: Int = 64 * 1024) -> String {
  guard lines > 0, maxBytes > 0 else { return "" }
  let fd = open(url.path, O_RDONLY | O_CLOEXEC)
  guard fd >= 0 else { return "" }
  defer { close(fd) }
  var info = stat()
  guard fstat(fd, &info) == 0 else { return "" }
  let size = Int(info.st_size)
  let start = max(0, size - maxBytes)
  var bytes = [UInt8](repeating: 0, count: size - start)
  var filled = 0
  while filled < bytes.count {
    let count = bytes.withUnsafeMutableBytes { buffer in
      pread(fd, buffer.baseAddress! + filled, buffer.count - filled, off_t(start + filled))
    }
    if count < 0 && errno == EINTR { continue }
    guard count > 0 else { break }
    filled += count
  }
  var tail = bytes[..<filled]
  if tail.last == UInt8(ascii: "\n") { tail = tail.dropLast() }
  var newlines = 0
  var first = tail.startIndex
  for index in tail.indices.reversed() where tail[index] == UInt8(ascii: "\n") {
    newlines += 1
    if newlines == lines {
      first = index + 1
      break
    }
  }
  return String(decoding: tail[first...], as: UTF8.self)
}
