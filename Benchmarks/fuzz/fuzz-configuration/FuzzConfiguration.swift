// libFuzzer target: a `bisect-deploy.yml` as the tool reads it, then what the tool does next
// with it (the environments in use, their fingerprints and folders). Errors are fine; a trap,
// a hang or a leak is a finding. Built and run by Benchmarks/fuzz/run.sh.
import Foundation
import FuzzDriver
import HuntKit

@main struct FuzzConfiguration {
  static func main() { runFuzzer() }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfiguration(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  // `Configuration.load` reads the file as UTF-8; invalid bytes never reach `parse`.
  let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
  let configuration: Configuration
  do {
    configuration = try Configuration.parse(text, path: "bisect-deploy.yml")
  } catch {
    // The message the user sees must be buildable for every error.
    _ = error.errorDescription
    return 0
  }
  do {
    let environments = try configuration.environmentsInUse()
    if environments.isEmpty { fatalError("environmentsInUse() returned no environment") }
    _ = configuration.fingerprint(for: environments)
    for environment in environments {
      _ = configuration.fingerprint(for: environment)
      _ = configuration.workspaceFolder(gitDirectory: "/repo/.git", environment: environment)
    }
    _ = configuration.logFolder(gitDirectory: "/repo/.git")
  } catch {
    _ = error.errorDescription
  }
  // What `restore:` said must read back the same from its description (the state keeps it so).
  let restore = configuration.restoreTarget
  if RestoreTarget(parsing: restore.description) != restore {
    fatalError("restore target \(restore) does not read back from '\(restore.description)'")
  }
  for timeout in [configuration.deployTimeout, configuration.testTimeout, configuration.restoreTimeout] {
    if let timeout, timeout < .zero { fatalError("negative timeout \(timeout)") }
  }
  if configuration.gracePeriod < .zero { fatalError("negative grace period") }
  return 0
}
