import Clibgit2
import History

/// libgit2 is initialised once, on first use, and never shut down (as git2-rs does): shutting
/// it down while another thread still holds a handle would be unsafe.
private let libgit2Ready: Bool = {
  git_libgit2_init()
  // Walks read each commit once; caching every object read only costs time and memory.
  _ = bisect_deploy_set_object_cache(0)
  // libgit2 hashes every object it reads again to check its name; git does not when it
  // walks history (fsck and transfers check objects), and the re-hashing cost about a fifth
  // of a walk without a commit-graph.
  _ = bisect_deploy_set_strict_hash_verification(0)
  return true
}()

/// Makes sure libgit2 is initialised; every entry point of this module calls it first.
func ensureLibgit2() {
  _ = libgit2Ready
}

/// libgit2's last error message for this thread, cleared after reading. `git_error_last`
/// may return NULL, in which case the code alone has to do.
func takeLastErrorMessage(code: Int32) -> String {
  defer { git_error_clear() }
  guard let error = git_error_last(), let message = error.pointee.message else {
    return "no message from libgit2 (code \(code))"
  }
  return String(cString: message)
}

/// Turns a libgit2 return code into a Swift error: negative codes throw `error(code, message)`
/// when given, `GitError.libgit2` otherwise.
@discardableResult
func check(
  _ code: Int32, _ operation: @autoclosure () -> String,
  mapping: ((Int32, String) -> GitError?)? = nil
) throws(GitError) -> Int32 {
  guard code < 0 else { return code }
  let message = takeLastErrorMessage(code: code)
  if let mapped = mapping?(code, message) { throw mapped }
  throw GitError.libgit2(operation: operation(), code: code, message: message)
}

extension ObjectID {
  /// Copies a libgit2 id into our value.
  init(_ oid: git_oid) {
    let words = withUnsafeBytes(of: oid.id) { raw in
      (
        UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
        UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
        UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
      )
    }
    self.init(high: words.0, middle: words.1, low: words.2)
  }

  /// The same id in libgit2's form.
  var oid: git_oid {
    var oid = git_oid()
    let words = self.words
    // Stored as big-endian words: no array made per id (a walk converts one per commit).
    withUnsafeMutableBytes(of: &oid.id) { raw in
      raw.storeBytes(of: words.high.bigEndian, toByteOffset: 0, as: UInt64.self)
      raw.storeBytes(of: words.middle.bigEndian, toByteOffset: 8, as: UInt64.self)
      raw.storeBytes(of: words.low.bigEndian, toByteOffset: 16, as: UInt32.self)
    }
    return oid
  }

  /// Reads 40 hex digits at `start` in `raw` (a commit object's `tree`/`parent` line).
  /// Returns nil when the digits are not all hexadecimal.
  static func parseHex(_ raw: UnsafeRawBufferPointer, at start: Int) -> ObjectID? {
    guard start + 40 <= raw.count else { return nil }
    var words: (UInt64, UInt64, UInt64) = (0, 0, 0)
    for index in 0..<40 {
      let character = raw[start + index]
      let value: UInt64
      switch character {
      case 48...57: value = UInt64(character - 48)
      case 97...102: value = UInt64(character - 87)
      case 65...70: value = UInt64(character - 55)
      default: return nil
      }
      switch index {
      case 0..<16: words.0 = words.0 << 4 | value
      case 16..<32: words.1 = words.1 << 4 | value
      default: words.2 = words.2 << 4 | value
      }
    }
    return ObjectID(high: words.0, middle: words.1, low: UInt32(truncatingIfNeeded: words.2))
  }
}
