import ArgumentParser

/// Benchmarks whose figures go into closing notes; run `Benchmarks/run.sh` for the usual setup.
struct Bench: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bisect-deploy-bench",
    abstract: "Benchmarks for bisect-deploy (figures, not pass/fail).",
    subcommands: [
      GraphBenchmark.self, MidpointBenchmark.self, FlakyBenchmark.self, RoundsBenchmark.self, LeaseBenchmark.self,
    ])
}

await Bench.main()
