import ArgumentParser

/// Benchmarks whose figures go into closing notes.
///
/// `@main` rather than a top-level `await Bench.main()`: there the synchronous `main()` of
/// `ParsableCommand` was chosen, which runs an async subcommand (`leases`) as its help.
@main
struct Bench: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bisect-deploy-bench",
    abstract: "Benchmarks for bisect-deploy (figures, not pass/fail).",
    subcommands: [
      GraphBenchmark.self, MidpointBenchmark.self, FlakyBenchmark.self, RoundsBenchmark.self, LeaseBenchmark.self,
    ])
}
