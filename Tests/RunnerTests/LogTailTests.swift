import Foundation
import Runner
import Testing

@Suite("The tail of a log")
struct LogTailTests {
  @Test("the last lines of a command's output are returned without a trailing newline")
  func tailOfCommandOutput() async throws {
    let workspace = try Workspace()
    _ = try await run(workspace.spec("seq 1 100; echo oops >&2"))
    // The runner's footer line comes last.
    let tail = logTail(workspace.log, lines: 4)
    let lines = tail.split(separator: "\n", omittingEmptySubsequences: false)
    #expect(lines.count == 4)
    #expect(lines.prefix(3) == ["99", "100", "oops"])
    #expect(lines[3].contains("exited with status 0"))
  }

  @Test("edge cases: no final newline, short file, empty, missing, zero lines")
  func edgeCases() throws {
    let workspace = try Workspace()
    let file = workspace.file("log")
    try Data("a\nb\nc".utf8).write(to: file)
    #expect(logTail(file, lines: 2) == "b\nc")
    #expect(logTail(file, lines: 10) == "a\nb\nc")
    #expect(logTail(file, lines: 0) == "")
    try Data().write(to: file)
    #expect(logTail(file, lines: 3) == "")
    #expect(logTail(workspace.file("absent"), lines: 3) == "")
  }

  @Test("only the last maxBytes bytes are read")
  func byteLimit() throws {
    let workspace = try Workspace()
    let file = workspace.file("log")
    try Data((String(repeating: "x", count: 1000) + "\nend\n").utf8).write(to: file)
    #expect(logTail(file, lines: 2, maxBytes: 10) == "xxxxx\nend")
  }
}
