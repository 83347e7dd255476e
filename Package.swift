// swift-tools-version: 6.2
import PackageDescription

let package = Package(
  name: "bisect-deploy",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "bisect-deploy", targets: ["bisect-deploy"])
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    // The kernel smoke test's HTTP client, and SwiftNIO's WebSocket and TLS under it.
    .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    // The shared state of a team's hunts (`--state postgres://…`).
    .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
  ],
  targets: [
    // libgit2 from the system (Debian: libgit2-dev 1.5.1), found through pkg-config.
    .systemLibrary(
      name: "Clibgit2",
      pkgConfig: "libgit2",
      providers: [.apt(["libgit2-dev"]), .brew(["libgit2"])]
    ),
    // Plain values shared by every module: object ids and the commit graph of a range.
    .target(name: "History"),
    // The only module that talks to libgit2.
    .target(name: "GitKit", dependencies: ["Clibgit2", "History"]),
    // Chooses what to test next from a graph and the verdicts so far: no I/O, no C.
    .target(name: "BisectEngine", dependencies: ["History"]),
    // Runs deploy, test and restore commands in their own process groups, with timeouts.
    .target(name: "Runner"),
    // Durable state: hunts, steps, the verdict cache and environment leases; the store
    // protocol and its SQLite implementation (the embedded default).
    .target(name: "HuntStore", dependencies: ["History", .product(name: "GRDB", package: "GRDB.swift")]),
    // The same store on a PostgreSQL server that a team's hosts share (postgres-nio).
    .target(
      name: "HuntStorePostgres",
      dependencies: [
        "History", "HuntStore", .product(name: "PostgresNIO", package: "postgres-nio"),
        .product(name: "Logging", package: "swift-log"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
      ]
    ),
    // Markdown and self-contained HTML reports of a hunt; pure rendering, Foundation only.
    .target(name: "HuntReport", dependencies: ["History"]),
    // A stored hunt made into a report's summary (state database and repository in, plain
    // values out): reports and notifications share it.
    .target(name: "HuntSummaries", dependencies: ["GitKit", "History", "HuntReport", "HuntStore", "Runner"]),
    // Tells people how a hunt ended: webhooks (Slack, Teams, JSON) on AsyncHTTPClient, and
    // commands through the runner. Never changes an outcome.
    .target(
      name: "Notify",
      dependencies: [
        "Runner",
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
      ]
    ),
    // A whole hunt: configuration, endpoint checks, deploy-and-test steps, restore.
    .target(
      name: "HuntKit",
      dependencies: [
        "GitKit", "History", "BisectEngine", "Runner", "HuntStore", "Notify", .product(name: "Yams", package: "Yams"),
      ]
    ),
    // The built-in demo's fixture (Fixtures/incident), shipped as a resource bundle beside the
    // executable so that an installed `bisect-deploy demo` finds it.
    .target(
      name: "DemoFixture",
      path: "Fixtures",
      exclude: ["README.md", "make-history.py", "make-pinned.py", "jupyterhub", "notify-server.py"],
      sources: ["DemoFixture.swift"],
      resources: [.copy("incident")]
    ),
    // The kernel smoke test against a JupyterHub: its REST API, a kernel's channels over a
    // WebSocket, the Jupyter messaging protocol, the verdict. The only module that uses the network.
    .target(
      name: "KernelSmoke",
      dependencies: [
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOWebSocket", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
      ]
    ),
    .target(
      name: "BisectCLI",
      dependencies: [
        "GitKit", "History", "BisectEngine", "HuntKit", "HuntReport", "HuntStore", "HuntStorePostgres", "HuntSummaries",
        "Runner", "DemoFixture", "KernelSmoke", "Notify",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    // The Swift runtime and Foundation linked in (docs/git-layer.md, "Performance"): the
    // dynamic loader's binding of them cost about 13 ms of every command's start.
    .executableTarget(
      name: "bisect-deploy", dependencies: ["BisectCLI"],
      linkerSettings: [
        .unsafeFlags(
          [
            "-static-stdlib", "-Xlinker", "--start-group", "-Xlinker", "-lFoundation", "-Xlinker",
            "-lFoundationInternationalization", "-Xlinker", "-lFoundationEssentials", "-Xlinker", "-lCoreFoundation",
            "-Xlinker", "-l_FoundationICU", "-Xlinker", "-l_FoundationCollections", "-Xlinker", "-l_FoundationCShims",
            "-Xlinker", "-lswiftSynchronization", "-Xlinker", "--end-group",
          ], .when(platforms: [.linux]))
      ]),
    // Benchmarks that print figures beside git's; not part of the product.
    .executableTarget(
      name: "bisect-deploy-bench",
      dependencies: [
        "GitKit", "History", "BisectEngine", "HuntStore", "HuntStorePostgres",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    // Builds real repositories for tests from Fixtures/ scripts; used by tests only.
    .target(name: "TestSupport", dependencies: ["History"], path: "Tests/TestSupport"),
    .testTarget(name: "HistoryTests", dependencies: ["History"]),
    .testTarget(name: "GitKitTests", dependencies: ["GitKit", "History", "TestSupport"]),
    .testTarget(name: "BisectCLITests", dependencies: ["HuntStore", "TestSupport"]),
    .testTarget(name: "BisectEngineTests", dependencies: ["BisectEngine", "History", "TestSupport"]),
    .testTarget(name: "RunnerTests", dependencies: ["Runner", "TestSupport"]),
    .testTarget(name: "HuntKitTests", dependencies: ["HuntKit", "History", "Notify", "Runner", "TestSupport"]),
    .testTarget(name: "HuntStoreTests", dependencies: ["HuntStore", "HuntStorePostgres", "History", "TestSupport"]),
    .testTarget(name: "HuntReportTests", dependencies: ["HuntReport"]),
  ],
  swiftLanguageModes: [.v6]
)

// libFuzzer targets (Benchmarks/fuzz/run.sh): they link only with `-sanitize=fuzzer`, so they
// exist only when BISECT_DEPLOY_FUZZ is set and normal builds never see them.
if Context.environment["BISECT_DEPLOY_FUZZ"] != nil {
  // `@_extern(c)` declares libFuzzer's driver, which each target's `main` calls.
  package.targets.append(
    .target(
      name: "FuzzDriver", path: "Benchmarks/fuzz/FuzzDriver", swiftSettings: [.enableExperimentalFeature("Extern")]))
  let fuzzers: [(name: String, dependencies: [Target.Dependency])] = [
    ("fuzz-configuration", ["HuntKit"]),
    ("fuzz-values", ["HuntKit"]),
    ("fuzz-revision", ["GitKit", "History"]),
    ("fuzz-date", ["BisectCLI"]),
    ("fuzz-outcome", ["HuntStore"]),
    ("fuzz-step-note", ["History", "HuntStore"]),
    ("fuzz-invocation", ["HuntKit"]),
  ]
  for fuzzer in fuzzers {
    package.targets.append(
      .executableTarget(
        name: fuzzer.name, dependencies: ["FuzzDriver"] + fuzzer.dependencies, path: "Benchmarks/fuzz/\(fuzzer.name)"))
  }
}

// scripts/test runs the libgit2 layer's tests again under AddressSanitizer. That pass sets
// BISECT_DEPLOY_LIBGIT2_ONLY=1 (with its own --scratch-path), and the manifest then declares
// only the layer and its tests: `swift test` builds every target of the package, and under
// ASan SwiftNIO (the kernel smoke test's HTTP and WebSocket) alone would take minutes.
if Context.environment["BISECT_DEPLOY_LIBGIT2_ONLY"] == "1" {
  let libgit2Layer: Set<String> = ["Clibgit2", "History", "GitKit", "TestSupport", "HistoryTests", "GitKitTests"]
  package.targets.removeAll { !libgit2Layer.contains($0.name) }
  package.products = []
  package.dependencies = []
}
