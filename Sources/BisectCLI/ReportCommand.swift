import ArgumentParser
import Foundation
import GitKit
import History
import HuntKit
import HuntReport
import HuntStore
import HuntSummaries
import Runner

/// `bisect-deploy report`: the report of a past hunt.
struct ReportCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "report", abstract: "Write the report of a hunt: Markdown to paste, or a self-contained HTML page.")

  @OptionGroup var options: StateOptions
  @OptionGroup var place: EnvironmentChoice
  @Option(help: "The hunt's number; bisect-deploy hunts lists them. (default: the newest)") var hunt: Int64?
  @Option(name: .shortAndLong, help: "Write to this .html or .md file. (default: Markdown on standard output)")
  var output: String?

  func run() async throws {
    let repository = try options.repository()
    let summary = try await options.withStore(repository) { store in
      let record = try await options.storedHunt(hunt, in: store, on: place.env, nothing: .nothingToShow)
      let configuration = Self.configuration(of: record, repository: repository)
      return try await ReportBuilder.summary(
        of: record, store: store, repository: repository,
        dependencies: presentDependencyHistories(of: configuration, gitDirectory: repository.gitDirectory))
    }
    if let output {
      try ReportBuilder.write(summary, to: output)
      printError("wrote \(output)")
    } else {
      print(markdownReport(summary), terminator: "")
    }
  }

  /// The configuration the hunt was started with (its `--config`, else the repository's
  /// bisect-deploy.yml), for the dependencies' histories (`--descend-deps`). One that cannot
  /// be read costs only the dependency commits' subjects: they are then named by hash.
  static func configuration(of record: HuntRecord, repository: Repository) -> Configuration {
    var explicit: String?
    if let invocation = StoredInvocation(encoded: record.commandLine) {
      let words = invocation.arguments
      for (index, word) in words.enumerated() {
        if word == "--config", index + 1 < words.count { explicit = words[index + 1] }
        if word.hasPrefix("--config=") { explicit = String(word.dropFirst("--config=".count)) }
      }
      let folder = URL(fileURLWithPath: invocation.directory, isDirectory: true)
      explicit = explicit.map { URL(fileURLWithPath: $0, relativeTo: folder).standardizedFileURL.path }
    }
    return (try? Configuration.discover(explicit: explicit, workTree: repository.workTree)) ?? Configuration()
  }
}
