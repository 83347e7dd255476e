import ArgumentParser

/// The `bisect-deploy` command: finds the commit of an infrastructure repo that broke an
/// environment. The root only declares the subcommands; each lives in a file of its own.
public struct BisectDeploy: AsyncParsableCommand {
  /// The version `--version` prints.
  public static let version = "0.1.0"

  public static let configuration = CommandConfiguration(
    commandName: "bisect-deploy",
    abstract: "Find the commit that broke an environment by deploying and smoke-testing midpoints.",
    discussion: """
      Exit codes are listed in docs/exit-codes.md.
      """,
    version: version,
    subcommands: [
      HuntCommand.self, PlanCommand.self, RangeCommand.self, ResumeCommand.self, StatusCommand.self,
      LogCommand.self, HuntsCommand.self, ResetCommand.self, MarkCommand.self, ReportCommand.self, NightlyCommand.self,
      DemoCommand.self, UnlockCommand.self, SmokeCommand.self, StateCommand.self, RevertBranchCommand.self,
    ],
    defaultSubcommand: HuntCommand.self
  )

  public init() {}
}
