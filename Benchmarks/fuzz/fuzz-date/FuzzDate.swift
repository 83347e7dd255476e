// libFuzzer target: `--good-at` / `--bad-at` dates as `RangeOptions.parseDate` reads them, then
// what `RangeOptions.revisions(in:)` does with the date (whole seconds for the first-parent walk,
// the ISO 8601 text of the message). `parseDate` is internal to BisectCLI: reached through
// `@testable import`, which works in debug builds only (run.sh builds debug).
// Built and run by Benchmarks/fuzz/run.sh.
import Foundation
import FuzzDriver

@testable import BisectCLI

@main struct FuzzDate {
  static func main() { runFuzzer() }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDate(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
  guard let date = RangeOptions.parseDate(text) else { return 0 }
  let seconds = date.timeIntervalSince1970
  // `Int64(date.timeIntervalSince1970)` in revisions(in:) traps on NaN, infinities and anything
  // beyond Int64: say which input would get there.
  guard seconds.isFinite, seconds > -9.2e18, seconds < 9.2e18 else {
    fatalError("parseDate('\(text)') gave \(seconds) s, which Int64(_:) in revisions(in:) cannot hold")
  }
  _ = Int64(seconds)
  _ = date.formatted(.iso8601)
  return 0
}
