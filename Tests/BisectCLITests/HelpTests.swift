import Foundation
import TestSupport
import Testing

/// The whole `--help` tree, through the release binary: every command answers, says its
/// defaults one way, and has no sentence broken by a line break written into its source.
@Suite struct HelpTests {
  /// Help as printed for a terminal `columns` wide.
  static func help(_ arguments: [String], columns: Int = 80) throws -> ProcessOutput {
    var environment = gitEnvironment
    environment["COLUMNS"] = String(columns)
    return try bisectDeploy(arguments, environment: environment)
  }

  /// The subcommands a help text lists (`hunt (default)` is `hunt`).
  static func subcommands(in text: String) -> [String] {
    var names = [String]()
    var inList = false
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
      if line.hasPrefix("SUBCOMMANDS:") {
        inList = true
      } else if inList {
        guard line.hasPrefix("  "), let word = line.split(separator: " ").first, !line.hasPrefix("  See ") else {
          if line.isEmpty { break }
          continue
        }
        names.append(String(word))
      }
    }
    return names
  }

  /// Every command's words, the root's subcommands and theirs (`smoke kernel`), walked from
  /// the root's help.
  static func commandPaths() throws -> [[String]] {
    var paths = [[String]]()
    var queue: [[String]] = [[]]
    while let path = queue.first {
      queue.removeFirst()
      if !path.isEmpty { paths.append(path) }
      let text = try help(["help"] + path, columns: 10_000).stdout
      queue += subcommands(in: text).map { path + [$0] }
    }
    return paths
  }

  /// Lines whose sentence goes on, in lower case, on the next line: with a terminal wide
  /// enough that nothing is wrapped, only a line break written into the source does that.
  static func brokenSentences(in text: String) -> [String] {
    let rows = text.split(separator: "\n", omittingEmptySubsequences: false).map {
      $0.trimmingCharacters(in: .whitespaces)
    }
    var broken = [String]()
    for (line, next) in zip(rows, rows.dropFirst()) where !line.isEmpty && !next.isEmpty {
      guard let last = line.last, let first = next.first else { continue }
      if !".:;!?)]".contains(last) && first.isLowercase { broken.append("\(line) / \(next)") }
    }
    return broken
  }

  /// Defaults written otherwise than ArgumentParser writes them ("(default: X)"): "(default
  /// 30s)", "good (default)", "default: estimated", "Default: 2". `hunt (default)` in the
  /// list of subcommands is ArgumentParser's own mark of the default subcommand.
  static func otherDefaults(in text: String) -> [String] {
    text.split(separator: "\n").map(String.init).filter { line in
      let lower = line.lowercased()
      let exempt = lower.range(of: #"^\s+\S+ \(default\)\s"#, options: .regularExpression) != nil
      let parenthesized = lower.components(separatedBy: "(default").dropFirst().contains { !$0.hasPrefix(": ") }
      let bare =
        lower.components(separatedBy: "default:").dropFirst().count
        > lower.components(separatedBy: "(default:").dropFirst().count
      return !exempt && (parenthesized || bare)
    }
  }

  static let paths = Result { try commandPaths() }

  @Test("the root lists the commands, smoke and state theirs")
  func walksTheTree() throws {
    let paths = try Self.paths.get()
    #expect(paths.contains(["hunt"]) && paths.contains(["unlock"]), "\(paths)")
    #expect(paths.contains(["smoke", "kernel"]), "\(paths)")
    #expect(paths.contains(["state", "migrate"]), "\(paths)")
  }

  @Test("help COMMAND and COMMAND --help answer every command with exit 0")
  func everyCommandAnswers() throws {
    for path in try Self.paths.get() {
      let viaHelp = try Self.help(["help"] + path)
      #expect(viaHelp.status == 0, "help \(path): \(viaHelp.stderr)")
      let viaFlag = try Self.help(path + ["--help"])
      #expect(viaFlag.status == 0, "\(path) --help: \(viaFlag.stderr)")
    }
  }

  @Test("every default is written (default: X), as ArgumentParser writes its own")
  func oneStyleOfDefault() throws {
    for path in [[]] + (try Self.paths.get()) {
      let text = try Self.help(["help"] + path, columns: 10_000).stdout
      #expect(
        Self.otherDefaults(in: text).isEmpty, "help \(path.joined(separator: " ")): \(Self.otherDefaults(in: text))")
    }
  }

  @Test("no sentence of any help is broken by a line break in its source")
  func noBrokenSentences() throws {
    for path in [[]] + (try Self.paths.get()) {
      let text = try Self.help(["help"] + path, columns: 10_000).stdout
      #expect(
        Self.brokenSentences(in: text).isEmpty, "help \(path.joined(separator: " ")): \(Self.brokenSentences(in: text))"
      )
    }
  }
}
