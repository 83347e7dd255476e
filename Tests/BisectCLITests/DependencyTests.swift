import Foundation
import TestSupport
import Testing

/// `--descend-deps`: when the culprit bumps a pinned dependency, the hunt goes on inside it
/// (docs/dependencies.md). One pinned fixture (Fixtures/make-pinned.py) serves the suite; each
/// test hunts on an environment of its own, so that they can run at once.
@Suite struct DependencyTests {
  static let shared: Result<(TemporaryDirectory, PinnedFixture), any Error> = Result {
    let directory = try TemporaryDirectory("pinned")
    return (directory, try makePinnedFixture(in: directory.url))
  }

  /// One test's hunt on the shared fixture: its configuration, environment and markers.
  struct Bench {
    let fixture: PinnedFixture
    let name: String
    let markers: URL
    let config: URL

    init(_ name: String, dependencies: String? = nil) throws {
      fixture = try DependencyTests.shared.get().1
      self.name = name
      markers = fixture.directory.appendingPathComponent("markers-\(name)")
      try FileManager.default.createDirectory(at: markers, withIntermediateDirectories: true)
      config = fixture.directory.appendingPathComponent("\(name).yml")
      // Relative `repo:` paths are read from the configuration file's folder.
      let text = """
        deploy: |
          pin=$(sed -n 's|.*kubespawner@\\([0-9a-f]*\\).*|\\1|p' hub/Dockerfile)
          chart=$(awk '/name: hubchart/ { f = 1 } f && /version:/ { gsub(/"/, "", $2); print $2; exit }' chart/Chart.yaml)
          echo "$BISECT_PHASE $BISECT_COMMIT ${BISECT_DEPENDENCY:--} ${BISECT_DEPENDENCY_REVISION:--} ${BISECT_DEPENDENCY_COMMIT:--} $pin $chart" >> "$MARKERS/deploys"
        test: sh smoke.sh
        descend_dependencies: true
        dependencies:

        """ + (dependencies ?? Self.localDependencies)
      try text.write(to: config, atomically: true, encoding: .utf8)
    }

    static let localDependencies = """
        kubespawner:
          kind: pip-git
          files: hub/Dockerfile
          repo: kubespawner
        hubchart:
          kind: helm-chart
          files: "**/Chart.yaml"
          repo: hubchart

      """

    var environment: [String: String] {
      var environment = fixture.environment
      environment["MARKERS"] = markers.path
      return environment
    }

    func hunt(_ branch: String, _ arguments: [String] = []) throws -> ProcessOutput {
      try bisectDeploy(
        ["--repo", fixture.infra.path, "--config", config.path, "--good", fixture.root, "--bad", branch, "--env", name]
          + arguments, environment: environment)
    }

    /// Each deploy: phase, commit, dependency, revision, dependency commit, the checkout's two pins.
    var deploys: [[String]] {
      lines((try? String(contentsOf: markers.appendingPathComponent("deploys"), encoding: .utf8)) ?? "").map {
        $0.split(separator: " ").map(String.init)
      }
    }
  }

  static func decode(_ output: ProcessOutput) throws -> [[String: Any]] {
    try lines(output.stdout).map { line in
      try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
    }
  }

  static func dependencies(_ objects: [[String: Any]]) throws -> [String: [String: Any]] {
    let result = try #require(objects.last)
    let list = try #require(result["dependencies"] as? [[String: Any]])
    return Dictionary(uniqueKeysWithValues: list.map { ($0["dependency"] as? String ?? "", $0) })
  }

  /// The repositories as the user keeps them: the tool's own folder in infra's git
  /// directory is what it writes (state, logs, checkouts, clones), and nothing else.
  static func digests(_ fixture: PinnedFixture) throws -> [[String: String]] {
    [
      try treeDigest(of: fixture.infra, skipping: [".git/bisect-deploy"]), try treeDigest(of: fixture.kubespawner),
      try treeDigest(of: fixture.hubchart),
    ]
  }

  @Test("the culprit bumps kubespawner: the descent names the dependency's commit and its pull request")
  func namesTheCommitInsideTheDependency() throws {
    let bench = try Bench("one")
    let fixture = bench.fixture
    let before = try Self.digests(fixture)
    let report = fixture.directory.appendingPathComponent("one.md")
    // A state file of its own, so that `report` and `log` read this hunt (others run at once).
    let state = fixture.directory.appendingPathComponent("one.sqlite").path
    let output = try bench.hunt("one-pin", ["--report", report.path, "--state", state])
    #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
    let culprit = fixture.branches["one-pin"]!.culprit
    let good = fixture.fact("kubespawner", "good")
    let bad = fixture.fact("kubespawner", "bad")
    let breaking = fixture.fact("kubespawner", "breaking")
    #expect(output.stdout.contains("The first bad commit is \(culprit)"))
    let line =
      "Dependency: the culprit \(culprit.prefix(7)) bumps kubespawner \(good.prefix(7)) -> \(bad.prefix(7)); "
      + "inside kubespawner, \(breaking.prefix(7)) Put the server's command in the pod's command broke it (pull request #34)"
    #expect(output.stdout.contains(line), "\(output.stdout)")

    // Every dependency step deployed the culprit's tree with the pin rewritten in the
    // checkout: the deploy read the revision it was told, and only commits between the pins.
    let inside = bench.deploys.filter { $0.first == "dependency" || $0.first == "dependency-check" }
    #expect(!inside.isEmpty)
    let range = Set(lines(try git(["rev-list", "\(good)..\(bad)"], in: fixture.kubespawner)))
    for deploy in inside {
      #expect(deploy[1] == culprit && deploy[2] == "kubespawner")
      #expect(deploy[5] == deploy[3], "the checkout pins \(deploy[5]), the step said \(deploy[3])")
      #expect(deploy[4] == deploy[3] || deploy[3] == good)
      #expect(range.contains(deploy[4]) || deploy[4] == good)
      #expect(deploy[6] == "0.2.0")
    }
    // The check before the descent: the culprit with the pin as before (its other changes kept).
    #expect(inside.first.map { [$0[0], $0[3]] } == ["dependency-check", good])
    // The bisection inside needs about log2 of the commits between the pins, not all of them.
    #expect(inside.count <= 7)

    let markdown = try String(contentsOf: report, encoding: .utf8)
    let sentence =
      "inside kubespawner, \(breaking.prefix(7)) Put the server's command in the pod's command broke it (pull request \\#34)."
    #expect(markdown.contains("### Inside the dependencies"))
    #expect(markdown.contains(sentence), "\(markdown)")
    #expect(markdown.contains("kubespawner at \(breaking.prefix(7))"))
    // `report` finds the dependency's history through the configuration the hunt was started with.
    let again = try bisectDeploy(
      ["report", "--repo", fixture.infra.path, "--state", state], environment: bench.environment)
    #expect(again.status == 0 && again.stdout.contains(sentence), "\(again.stdout)")
    #expect(try Self.digests(fixture) == before, "the repositories changed")
    // git bisect replay gets the repository's own steps only.
    let log = try bisectDeploy(["log", "--repo", fixture.infra.path, "--state", state], environment: bench.environment)
    #expect(log.status == 0 && log.stdout.contains("git bisect bad \(culprit)"), "\(log.stdout)")
    #expect(!log.stdout.contains(breaking))
  }

  @Test("--descend inside the dependency: its pull request's merge first, then the commit inside it")
  func mergeThenCommitInside() throws {
    let bench = try Bench("merge")
    let fixture = bench.fixture
    let output = try bench.hunt("one-pin", ["--descend", "--json"])
    #expect(output.status == 0, "\(output.stderr)")
    let objects = try Self.decode(output)
    let found = try #require(try Self.dependencies(objects)["kubespawner"])
    #expect(found["answer"] as? String == "found")
    #expect((found["commit"] as? [String: Any])?["id"] as? String == fixture.fact("kubespawner", "breaking"))
    #expect((found["merge"] as? [String: Any])?["id"] as? String == fixture.fact("kubespawner", "merge"))
    #expect(found["pullRequest"] as? Int == 34)
    // The first stage deploys only the dependency's first-parent commits, the second only the merge's own.
    let good = fixture.fact("kubespawner", "good")
    let bad = fixture.fact("kubespawner", "bad")
    let merge = fixture.fact("kubespawner", "merge")
    let chain = lines(try git(["rev-list", "--first-parent", "\(good)..\(bad)"], in: fixture.kubespawner))
    let inner = Set(lines(try git(["rev-list", "\(merge)^1..\(merge)^2"], in: fixture.kubespawner)))
    let steps = objects.filter { $0["event"] as? String == "verdict" && $0["purpose"] as? String == "dependency" }
      .compactMap { $0["commit"] as? String }
    let firstStage = steps.prefix { Set(chain).contains($0) }
    #expect(!firstStage.isEmpty && steps.count > firstStage.count)
    #expect(steps.dropFirst(firstStage.count).allSatisfy { inner.contains($0) }, "\(steps)")
    let verdicts = objects.filter { $0["purpose"] as? String == "dependency" && $0["event"] as? String == "verdict" }
    #expect(
      verdicts.allSatisfy { $0["dependency"] as? String == "kubespawner" && ($0["revision"] as? String)?.count == 40 })
  }

  @Test("a culprit bumping two pins: the guilty one is named, the other is not the cause")
  func twoPinsOnlyOneGuilty() throws {
    let bench = try Bench("two")
    let fixture = bench.fixture
    let output = try bench.hunt("two-pins", ["--json"])
    #expect(output.status == 0, "\(output.stderr)")
    let found = try Self.dependencies(try Self.decode(output))
    #expect(found["kubespawner"]?["answer"] as? String == "found")
    #expect(
      (found["kubespawner"]?["commit"] as? [String: Any])?["id"] as? String == fixture.fact("kubespawner", "breaking"))
    #expect(found["hubchart"]?["answer"] as? String == "not-the-cause")
    #expect((found["hubchart"]?["note"] as? String)?.contains("only this pin bumped") == true)
    // Each bump was tested alone, the other pin as the parent had it.
    let checks = bench.deploys.filter { $0.first == "dependency-check" }
    let good = fixture.fact("kubespawner", "good")
    #expect(checks.contains { $0[2] == "kubespawner" && $0[5] == good && $0[6] == "0.2.0" }, "\(checks)")
    #expect(checks.contains { $0[2] == "hubchart" && $0[5] == good && $0[6] == "0.4.0" }, "\(checks)")
    // Inside kubespawner the chart stays as before.
    #expect(bench.deploys.filter { $0.first == "dependency" }.allSatisfy { $0[6] == "0.2.0" })
  }

  @Test("a chart version bump: the candidates are the versions between, in the tags' order")
  func chartVersions() throws {
    let bench = try Bench("chart")
    let fixture = bench.fixture
    let output = try bench.hunt("chart", ["--json"])
    #expect(output.status == 0, "\(output.stderr)")
    let objects = try Self.decode(output)
    let found = try #require(try Self.dependencies(objects)["hubchart"])
    #expect(found["answer"] as? String == "found")
    #expect(found["version"] as? String == "0.5.0-rc1")
    #expect(found["revisions"] as? String == "versions")
    #expect((found["commit"] as? [String: Any])?["id"] as? String == fixture.versions["0.5.0-rc1"])
    let byGit = lines(try git(["-c", "versionsort.suffix=-", "tag", "--sort=version:refname"], in: fixture.hubchart))
    let between = byGit.drop { $0 != "v0.2.0" }.dropFirst().prefix { $0 != "v0.10.0" }.map { String($0.dropFirst()) }
    #expect(found["candidates"] as? Int == between.count + 1)
    // Steps wrote versions as the pin writes them, each one the checkout then pinned.
    for deploy in bench.deploys where deploy.first == "dependency" {
      #expect(deploy[2] == "hubchart" && deploy[6] == deploy[3] && (between + ["0.10.0"]).contains(deploy[3]))
      #expect(fixture.versions[deploy[3]] == deploy[4])
    }
  }

  @Test("a downgrade or a fork is said, with no descent")
  func downgradeAndFork() throws {
    for (branch, words) in [("downgrade", "a downgrade"), ("fork", "is not an ancestor")] {
      let bench = try Bench(branch)
      let output = try bench.hunt(branch)
      #expect(output.status == 0, "\(output.stderr)")
      #expect(output.stdout.contains("The first bad commit is \(bench.fixture.branches[branch]!.culprit)"))
      #expect(output.stdout.contains("kubespawner"), "\(output.stdout)")
      #expect(output.stdout.contains("not descended into: "), "\(output.stdout)")
      #expect(output.stdout.contains(words), "\(output.stdout)")
      #expect(!bench.deploys.contains { $0.first?.hasPrefix("dependency") == true })
    }
  }

  @Test("killed inside the dependency, the resumed hunt replays its steps and names the same commit")
  func resumeInsideTheDependency() throws {
    let bench = try Bench("resume")
    let fixture = bench.fixture
    let state = fixture.directory.appendingPathComponent("resume.sqlite").path
    // The third dependency step hangs the first time, and is killed there.
    let script = fixture.directory.appendingPathComponent("resume-deploy.sh")
    try """
    echo "$BISECT_PHASE $BISECT_STEP $BISECT_DEPENDENCY_COMMIT" >> "$MARKERS/deploys"
    if [ "$BISECT_PHASE" = dependency ] && [ ! -e "$MARKERS/hung" ]; then
      n=$(grep -c '^dependency ' "$MARKERS/deploys")
      if [ "$n" -ge 2 ]; then echo $$ > "$MARKERS/hung"; exec sleep 60; fi
    fi
    true
    """.write(to: script, atomically: true, encoding: .utf8)
    let arguments = [
      "--repo", fixture.infra.path, "--config", bench.config.path, "--good", fixture.root, "--bad", "one-pin", "--env",
      bench.name, "--state", state, "--deploy", "sh \(script.path)", "--quiet",
    ]
    let process = Process()
    process.executableURL = bisectDeployExecutable
    process.arguments = arguments
    process.environment = bench.environment
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(60)
    let hung = bench.markers.appendingPathComponent("hung")
    func hungPID() -> Int32? {
      (try? String(contentsOf: hung, encoding: .utf8)).flatMap {
        Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
      }
    }
    while hungPID() == nil, Date() < deadline { usleep(20_000) }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    // The hung deploy outlives the tool killed with SIGKILL (that is what a crash leaves): stopped here.
    if let pid = hungPID() { kill(pid, SIGKILL) }
    let recorded = bench.deploys.filter { $0.first == "dependency" }.dropLast().map { $0[2] }
    #expect(recorded.count >= 1)

    let resumed = try bisectDeploy(
      ["resume", "--repo", fixture.infra.path, "--state", state, "--env", bench.name], environment: bench.environment)
    #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
    #expect(resumed.stdout.contains("inside kubespawner, \(fixture.fact("kubespawner", "breaking").prefix(7))"))
    #expect(resumed.stdout.contains("Resumed: "))
    // The steps stored before the kill were not deployed again; the one killed was.
    let again = bench.deploys.filter { $0.first == "dependency" }.map { $0[2] }
    let afterKill = again.dropFirst(recorded.count + 1)
    #expect(Set(afterKill).isDisjoint(with: recorded), "\(again)")
    #expect(bench.deploys.filter { $0.first == "dependency-check" }.count == 1, "the check before the descent ran once")
  }

  @Test("several environments and --flaky work inside the dependency too")
  func severalEnvironmentsFlaky() throws {
    let bench = try Bench("flaky")
    let fixture = bench.fixture
    let output = try bisectDeploy(
      [
        "--repo", fixture.infra.path, "--config", bench.config.path, "--good", fixture.root, "--bad", "one-pin",
        "--env", "flaky-1,flaky-2", "--flaky", "--json",
      ], environment: bench.environment)
    #expect(output.status == 0, "\(output.stderr)")
    let objects = try Self.decode(output)
    let found = try #require(try Self.dependencies(objects)["kubespawner"])
    #expect(found["answer"] as? String == "found")
    #expect((found["commit"] as? [String: Any])?["id"] as? String == fixture.fact("kubespawner", "breaking"))
    #expect((found["note"] as? String)?.hasPrefix("probability ") == true)
    let places = Set(
      objects.filter { $0["purpose"] as? String == "dependency" && $0["event"] as? String == "verdict" }
        .compactMap { $0["environment"] as? String })
    #expect(places == ["flaky-1", "flaky-2"])
  }

  @Test("a url: dependency is cloned into the tool's folder only when network access is allowed")
  func urlNeedsNetworkAccess() throws {
    let bench = try Bench(
      "url",
      dependencies: """
          kubespawner-url:
            kind: pip-git
            project: kubespawner
            files: hub/Dockerfile
            url: file://\(try DependencyTests.shared.get().1.kubespawner.path)

        """)
    let fixture = bench.fixture
    let refused = try bench.hunt("one-pin")
    #expect(refused.status == 78, "\(refused.stderr)")
    #expect(refused.stderr.contains("--allow-network"))
    #expect(bench.deploys.isEmpty, "refused before anything was deployed")

    let before = try Self.digests(fixture)
    let output = try bench.hunt("one-pin", ["--allow-network"])
    #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
    #expect(output.stdout.contains("inside kubespawner-url, \(fixture.fact("kubespawner", "breaking").prefix(7))"))
    let cache = fixture.infra.appendingPathComponent(".git/bisect-deploy/dependencies/kubespawner-url")
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: cache.path).sorted() == [
        ".bisect-deploy-dependency", "clone.git",
      ])
    #expect(try Self.digests(fixture) == before, "the repositories changed")

    // A folder at that place that the tool did not make is refused, never emptied.
    let foreign = fixture.infra.appendingPathComponent(".git/bisect-deploy/dependencies/kubespawner-url2")
    try FileManager.default.createDirectory(at: foreign, withIntermediateDirectories: true)
    try "mine".write(to: foreign.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
    let other = try Bench(
      "url2",
      dependencies: """
          kubespawner-url2:
            kind: pip-git
            project: kubespawner
            files: hub/Dockerfile
            url: file://\(fixture.kubespawner.path)

        """)
    let mine = try other.hunt("one-pin", ["--allow-network"])
    #expect(mine.status == 74, "\(mine.stderr)")
    #expect(try String(contentsOf: foreign.appendingPathComponent("notes.txt"), encoding: .utf8) == "mine")

    // A URL that gives nothing to clone is said before anything is deployed (67).
    let missing = try Bench(
      "url3",
      dependencies: """
          gone:
            kind: pip-git
            project: kubespawner
            files: hub/Dockerfile
            url: file://\(fixture.directory.path)/no-such-repository

        """)
    let unreachable = try missing.hunt("one-pin", ["--allow-network"])
    #expect(unreachable.status == 67, "\(unreachable.stderr)")
    #expect(unreachable.stderr.contains("no-such-repository"))
    #expect(missing.deploys.isEmpty)
  }
}
