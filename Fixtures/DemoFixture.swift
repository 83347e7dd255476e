import Foundation

/// Where the built-in demo's fixture (`Fixtures/incident`) is, for an installed binary.
///
/// SwiftPM copies the folder into a resource bundle, `bisect-deploy_DemoFixture.resources`,
/// next to the executable; copying the executable together with that folder anywhere keeps
/// the demo working. The lookup is by hand rather than through `Bundle.module`, whose
/// accessor stops the process with a fatal error when the bundle is missing: a missing
/// fixture is a message for the user, not a crash.
public enum DemoFixture {
  /// The bundle's folder name, as SwiftPM names it (package, target).
  public static let bundleName = "bisect-deploy_DemoFixture.resources"

  /// The fixture folder inside the resource bundle beside `executable`, when it is there.
  public static func installed(besideExecutable executable: URL) -> URL? {
    let folder = executable.deletingLastPathComponent().appendingPathComponent(bundleName)
      .appendingPathComponent("incident")
    let script = folder.appendingPathComponent("run-demo.sh")
    return FileManager.default.fileExists(atPath: script.path) ? folder : nil
  }
}
