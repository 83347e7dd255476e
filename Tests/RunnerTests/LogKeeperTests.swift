import Foundation
import Runner
import Testing

/// The log's size limit and the redaction of secret values from command output, with real
/// commands writing real files.
@Suite struct LogKeeperTests {
  @Test("a command printing far past the limit leaves a log within it: its start, a note, its newest output")
  func limit() async throws {
    let workspace = try Workspace()
    var spec = workspace.spec("echo START; head -c 6000000 /dev/zero | tr '\\0' y; echo; echo END")
    spec.logLimit = 65536
    let result = try await run(spec)
    #expect(result.succeeded)
    let size = try #require(try FileManager.default.attributesOfItem(atPath: workspace.log.path)[.size] as? NSNumber)
    #expect(size.intValue <= 65536 + 256, "\(size) bytes")
    let log = try workspace.logText()
    #expect(log.contains("run: echo START") && log.contains("START\n"))
    #expect(log.contains("END\n") && log.contains("exited with status 0"))
    let note = try #require(log.split(separator: "\n").first { $0.contains("bytes of output were dropped here") })
    // The note counts what went: nearly all of the 6,000,000 bytes.
    let dropped = try #require(Int(note.split(separator: ";")[1].split(separator: " ")[0]))
    #expect(dropped > 5_900_000 && dropped < 6_000_000, "\(note)")
  }

  @Test("no limit keeps everything")
  func noLimit() async throws {
    let workspace = try Workspace()
    var spec = workspace.spec("head -c 300000 /dev/zero | tr '\\0' y")
    spec.logLimit = nil
    _ = try await run(spec)
    #expect(try workspace.logText().count > 300000)
  }

  @Test("values of secret-looking variables are replaced in the output, also across 1 MiB pieces")
  func redaction() async throws {
    let workspace = try Workspace()
    // The second copy of the token straddles the first 1 MiB piece of the file.
    let spec = workspace.spec(
      "echo \"token=$API_TOKEN\"; head -c 1048560 /dev/zero | tr '\\0' z; printf '%s\\n' \"$API_TOKEN\"; echo \"pin=$SHORT_KEY\"",
      environment: ["API_TOKEN": "s3cr3t-t0ken-value", "SHORT_KEY": "abc", "PLAIN": "s3cr3t-t0ken-value-not"])
    _ = try await run(spec)
    let log = try workspace.logText()
    #expect(!log.contains("s3cr3t-t0ken-value"))
    #expect(log.contains("token=***"))
    #expect(log.contains("z***\n"), "the copy that straddles the pieces")
    // Values shorter than eight characters would blank out ordinary words: kept.
    #expect(log.contains("pin=abc"))
    let mode = try FileManager.default.attributesOfItem(atPath: workspace.log.path)[.posixPermissions] as? NSNumber
    #expect(mode?.intValue == 0o600)
  }

  @Test("secretValues takes flagged names only, eight characters or longer, longest first")
  func secretValueSelection() {
    let values = secretValues(in: [
      "API_TOKEN": "abcdefghij", "DB_PASSWORD": "abcdefgh", "PATH": "/usr/bin/long", "GH_AUTH": "xyz",
      "XDG_SESSION_CLASS": "user",
    ])
    #expect(values == ["abcdefghij", "abcdefgh"])
  }

  @Test("a secret lying exactly across the 1 MiB pieces the redaction reads is replaced, the file rewritten in place")
  func redactionAcrossPieces() throws {
    let workspace = try Workspace()
    let secret = Array("s3cr3t-t0ken-value".utf8)
    for offset in [(1 << 20) - 9, (1 << 20) - 1, 1 << 20] {
      // The secret starts `offset` bytes in: before, at and after the first piece's end.
      var bytes = [UInt8](repeating: UInt8(ascii: "z"), count: offset) + secret
      bytes += Array("\nend\n".utf8)
      try Data(bytes).write(to: workspace.log)
      let inode = try #require(
        try FileManager.default.attributesOfItem(atPath: workspace.log.path)[.systemFileNumber] as? NSNumber)
      LogKeeper(url: workspace.log, limit: nil, secrets: ["s3cr3t-t0ken-value"]).redact()
      let text = try workspace.logText()
      #expect(!text.contains("s3cr3t"), "offset \(offset)")
      #expect(text.hasSuffix(String(repeating: "z", count: 5) + "***\nend\n"), "offset \(offset)")
      #expect(text.utf8.count == offset + 3 + 5)
      let after = try FileManager.default.attributesOfItem(atPath: workspace.log.path)[.systemFileNumber] as? NSNumber
      #expect(after == inode, "the same file, rewritten in place")
    }
  }
}
