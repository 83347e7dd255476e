// libFuzzer target: a hunt's stored command line (`hunts.command_line`, JSON), as `resume` reads
// it back, and the round trip of what it read. Built and run by Benchmarks/fuzz/run.sh.
import FuzzDriver
import HuntKit

@main struct FuzzInvocation {
  static func main() { runFuzzer() }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzInvocation(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
  guard let invocation = StoredInvocation(encoded: text) else { return 0 }
  let stored = invocation.encoded
  guard let again = StoredInvocation(encoded: stored), again == invocation else {
    fatalError("stored invocation does not read back: \(invocation) -> \(stored)")
  }
  return 0
}
