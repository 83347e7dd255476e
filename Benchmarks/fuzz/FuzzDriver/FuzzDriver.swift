// The entry point of every fuzz target. SwiftPM links an executable target with `main` set to
// the module's own entry point (`--defsym main=<module>_main`), so libFuzzer's `main` never
// runs: each target's `@main` calls `runFuzzer()`, which hands the command line to libFuzzer's
// driver with the target's `LLVMFuzzerTestOneInput`.
#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

@_extern(c, "LLVMFuzzerRunDriver")
func runDriver(
  _ argc: UnsafeMutablePointer<CInt>,
  _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
  _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// Defined by each fuzz target with `@_cdecl("LLVMFuzzerTestOneInput")`.
@_extern(c, "LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt

/// Runs libFuzzer with this process's arguments (`-max_total_time=60 corpus/…`) and exits
/// with its status.
public func runFuzzer() -> Never {
  var argc = CommandLine.argc
  var argv = CommandLine.unsafeArgv
  exit(runDriver(&argc, &argv, testOneInput))
}
