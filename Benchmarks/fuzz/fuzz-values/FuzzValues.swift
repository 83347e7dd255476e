// libFuzzer target: the small value parsers shared by the configuration file and the flags
// (`--deploy-timeout`, `--false-bad`, `--restore`): `parseDuration`, `parseRate` and
// `RestoreTarget(parsing:)`. Built and run by Benchmarks/fuzz/run.sh.
import FuzzDriver
import HuntKit

@main struct FuzzValues {
  static func main() { runFuzzer() }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzValues(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
  if let duration = parseDuration(text), duration < .zero {
    fatalError("parseDuration('\(text)') is negative: \(duration)")
  }
  if let rate = parseRate(text), !rate.isFinite {
    fatalError("parseRate('\(text)') is not finite: \(rate)")
  }
  let restore = RestoreTarget(parsing: text)
  if RestoreTarget(parsing: restore.description) != restore {
    fatalError("RestoreTarget '\(text)' does not read back from '\(restore.description)'")
  }
  return 0
}
