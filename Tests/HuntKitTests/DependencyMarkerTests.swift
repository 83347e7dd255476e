import HuntKit
import Testing

/// The marker of a dependency's clone is a plain file: it keeps no password (issue 30, item 9).
@Suite struct DependencyMarkerTests {
  @Test("the marker's URL line masks credentials, and another password still reads as another URL")
  func credentialsMasked() {
    let line = DependencyHistory.markerLine(for: "https://deployer:s3cret@git.example/infra/spawner.git")
    #expect(!line.contains("s3cret"), "\(line)")
    #expect(line.contains("git.example/infra/spawner.git"))
    #expect(line.contains(" sha1:"))
    #expect(line != DependencyHistory.markerLine(for: "https://deployer:other@git.example/infra/spawner.git"))
    #expect(line == DependencyHistory.markerLine(for: "https://deployer:s3cret@git.example/infra/spawner.git"))
  }
}
