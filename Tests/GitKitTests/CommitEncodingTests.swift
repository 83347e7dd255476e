import Foundation
import GitKit
import History
import TestSupport
import Testing

/// Commits whose text is not UTF-8 (an `encoding` header): we show what `git log` shows.
@Suite struct CommitEncodingTests {
  /// An encoding name as git users write it, and a message and author name written in it as
  /// `printf` escapes (octal bytes).
  struct Sample: Sendable, CustomTestStringConvertible {
    var encoding: String
    var message: String
    var author: String
    var testDescription: String { encoding }
  }

  static let samples = [
    // "café au lait" on two lines, then a body; author "Renée Dupré".
    Sample(
      encoding: "latin1", message: "caf\\351 au\\nlait\\n\\nd\\351j\\340 vu, na\\357ve\\n",
      author: "Ren\\351e Dupr\\351"),
    Sample(encoding: "ISO-8859-1", message: "\\300 la carte\\n", author: "Andr\\351"),
    // The euro sign: 0xA4 in ISO-8859-15, 0x80 in windows-1252.
    Sample(encoding: "ISO-8859-15", message: "co\\373t 5 \\244\\n", author: "J\\366rg"),
    Sample(encoding: "cp1252", message: "prix 5 \\200, \\223cit\\351\\224\\n", author: "Fran\\347ois"),
    Sample(encoding: "windows-1250", message: "\\271koda \\350esky\\n", author: "Ji\\370\\355"),
    Sample(encoding: "ISO-8859-5", message: "\\322\\336\\324\\320\\n", author: "\\270\\322\\320\\335"),
    // "あい" in Shift_JIS; its second bytes may look like ASCII letters.
    Sample(encoding: "Shift_JIS", message: "\\202\\240\\202\\242 \\203\\\\\\203A\\n", author: "\\223c\\222\\206"),
    // UTF-8 written as such, with and without the header: unchanged.
    Sample(encoding: "UTF-8", message: "caf\\303\\251\\n", author: "Ren\\303\\251e"),
    Sample(encoding: "", message: "na\\303\\257ve\\n", author: "Zo\\303\\253"),
    // A name nobody knows: read as UTF-8, as git leaves such text as it is.
    Sample(encoding: "x-no-such-encoding", message: "plain text\\n", author: "Someone"),
  ]

  @Test("message, summary, author and committer are decoded as git log shows them", arguments: samples)
  func decodesLikeGitLog(sample: Sample) throws {
    let directory = try TemporaryDirectory()
    let path = directory.url
    try git(["init", "-q", "-b", "main"], in: path)
    let setting = sample.encoding.isEmpty ? "" : "-c i18n.commitEncoding='\(sample.encoding)'"
    let script = """
      set -e
      printf '\(sample.message)' > message
      echo text > file
      git add file
      GIT_AUTHOR_NAME="$(printf '\(sample.author)')" GIT_COMMITTER_NAME="$(printf '\(sample.author)')" \\
        git \(setting) commit -q -F message
      """
    let made = try runProcess("/bin/sh", ["-c", script], in: path, environment: gitEnvironment)
    try #require(made.status == 0, "\(made.stderr)")
    let header = try git(["cat-file", "commit", "HEAD"], in: path)
    #expect(header.contains("\nencoding ") == !(sample.encoding.isEmpty || sample.encoding == "UTF-8"))

    let repository = try Repository(at: path.path)
    let info = try repository.commit(try repository.resolve("HEAD"))
    let fields = try git(["log", "-1", "--format=%s%x00%an%x00%ae%x00%cn%x00%B"], in: path)
      .split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
    #expect(info.summary == fields[0])
    #expect(info.author.name == fields[1])
    #expect(info.author.email == fields[2])
    #expect(info.committer.name == fields[3])
    #expect(
      info.message.trimmingCharacters(in: .whitespacesAndNewlines)
        == fields[4].trimmingCharacters(in: .whitespacesAndNewlines))
    #expect(!info.message.contains("\u{FFFD}") && !info.author.name.contains("\u{FFFD}"))
  }

  @Test("the reported example: a latin1 café reads as café")
  func latin1Cafe() throws {
    let directory = try TemporaryDirectory()
    let path = directory.url
    try git(["init", "-q", "-b", "main"], in: path)
    let script = """
      set -e
      printf 'caf\\351\\n' > message
      git -c i18n.commitEncoding=latin1 commit -q --allow-empty -F message
      """
    let made = try runProcess("/bin/sh", ["-c", script], in: path, environment: gitEnvironment)
    try #require(made.status == 0, "\(made.stderr)")
    let repository = try Repository(at: path.path)
    let info = try repository.commit(try repository.resolve("HEAD"))
    #expect(info.summary == "café")
    #expect(info.message == "café\n")
  }
}
