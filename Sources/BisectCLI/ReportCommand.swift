import ArgumentParser
import Foundation
import GitKit
import History
import HuntReport
import HuntStore
import HuntSummaries
import Runner

/// `bisect-deploy report`: the report of a past hunt.
struct ReportCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "report", abstract: "Write the report of a hunt: Markdown to paste, or a self-contained HTML page.")

  @OptionGroup var options: StateOptions
  @Option(help: "The hunt's number (default: the newest; see bisect-deploy hunts).") var hunt: Int64?
  @Option(name: .shortAndLong, help: "Write to this .html or .md file (default: Markdown on standard output).")
  var output: String?

  func run() async throws {
    let repository = try options.repository()
    let summary = try await options.withStore(repository) { store in
      let record = try await options.storedHunt(hunt, in: store)
      return try await ReportBuilder.summary(of: record, store: store, repository: repository)
    }
    if let output {
      try ReportBuilder.write(summary, to: output)
      printError("wrote \(output)")
    } else {
      print(markdownReport(summary), terminator: "")
    }
  }
}
