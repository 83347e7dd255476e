import Foundation
import GitKit
import History
import HuntKit
import TestSupport
import Testing

/// Pins read out of files and rewritten in checkouts, dependency ranges against git, and
/// the `dependencies:` configuration (docs/dependencies.md).
@Suite struct DependencyPinTests {
  /// One pinned fixture for the suite: reading it never changes it.
  static let fixture: Result<(TemporaryDirectory, PinnedFixture), any Error> = Result {
    let directory = try TemporaryDirectory("pins")
    return (directory, try makePinnedFixture(in: directory.url))
  }

  static func pinned() throws -> PinnedFixture { try fixture.get().1 }

  /// The same fixture with a third of its commits dated off their place (parents newer than
  /// their children), made when a test first asks for it.
  static let skewedFixture: Result<(TemporaryDirectory, PinnedFixture), any Error> = Result {
    let directory = try TemporaryDirectory("pins-skewed")
    return (directory, try makePinnedFixture(in: directory.url, dateSkew: 0.35))
  }

  /// Each commit of `git rev-list --parents` output with its parents inside the listed range
  /// (only the first parent, when `firstParent`), by id.
  static func inRangeParents(_ listing: [String], firstParent: Bool) -> [String: [String]] {
    let rows = listing.map { $0.split(separator: " ").map(String.init) }
    let listed = Set(rows.compactMap(\.first))
    return Dictionary(
      uniqueKeysWithValues: rows.map { row in
        (row[0], row.dropFirst().prefix(firstParent ? 1 : .max).filter { listed.contains($0) })
      })
  }

  static func captures(_ kind: PinKind, _ project: String, in text: String) -> [String] {
    guard case .success(let pattern) = PinPattern.compile(kind.pattern(project: project)) else { return ["?"] }
    return pattern.captures(in: text).map(\.value)
  }

  @Test("each ready-made kind captures its revision, and only its project's")
  func kinds() {
    let dockerfile = """
      RUN pip install --no-cache-dir git+https://github.com/jupyterhub/kubespawner@dc41368e4a1a3b1f7e8f0e8c3f5b6a7d8e9f0a1b
      RUN pip install git+https://github.com/jupyterhub/kubespawner-extras@0123456
      kubespawner @ git+https://github.com/jupyterhub/kubespawner.git@v0.6.0#egg=kubespawner
      """
    #expect(
      Self.captures(.pipGit, "kubespawner", in: dockerfile) == ["dc41368e4a1a3b1f7e8f0e8c3f5b6a7d8e9f0a1b", "v0.6.0"])
    let terraform = """
      module "vpc" {
        source = "git::https://example.com/infra/terraform-aws-vpc.git//modules/vpc?depth=1&ref=v1.2.0"
      }
      module "other" { source = "git::https://example.com/infra/terraform-aws-vpc-endpoints.git?ref=v9" }
      module "dns" { source = "github.com/infra/terraform-aws-vpc?ref=4f1e2d3" }
      """
    #expect(Self.captures(.terraformRef, "terraform-aws-vpc", in: terraform) == ["v1.2.0", "4f1e2d3"])
    let chart = """
      apiVersion: v2
      name: data8
      version: 1.0.0
      dependencies:
        - name: other
          version: 9.9.9
        - name: jupyterhub
          repository: https://jupyterhub.github.io/helm-chart/
          version: "0.8.2"
        - name: jupyterhub-extra
          version: 1.1.1
      """
    #expect(Self.captures(.helmChart, "jupyterhub", in: chart) == ["0.8.2"])
    let values = """
      containers:
        - image: registry.example.org:5000/jupyterhub/k8s-hub:0.8.2
        - image: "jupyterhub/k8s-hub-extra:1.0"
        - image: 'k8s-hub:0.9.0' # pinned
      """
    #expect(Self.captures(.imageTag, "k8s-hub", in: values) == ["0.8.2", "0.9.0"])
  }

  @Test(
    "files globs: a name matches in any folder, a path from the root, ** any folders",
    arguments: [
      ("Dockerfile", "hub/Dockerfile", true), ("Dockerfile", "Dockerfile", true),
      ("Dockerfile", "hub/Dockerfile.dev", false), ("hub/Dockerfile", "hub/Dockerfile", true),
      ("hub/Dockerfile", "other/hub/Dockerfile", false), ("**/Chart.yaml", "Chart.yaml", true),
      ("**/Chart.yaml", "a/b/c/Chart.yaml", true), ("charts/*/Chart.yaml", "charts/hub/Chart.yaml", true),
      ("charts/*/Chart.yaml", "charts/a/b/Chart.yaml", false), ("requirements*.txt", "requirements-dev.txt", true),
      ("./hub/*.txt", "hub/r.txt", true), ("modules/**/*.tf", "modules/vpc/main.tf", true),
      ("*.tf", ".hidden.tf", false),
    ])
  func globs(glob: String, path: String, matches: Bool) {
    #expect(PathGlob.matches(glob, path: path) == matches)
  }

  @Test("versions sort as git sorts tags (versionsort.suffix=-): 0.10.0 after 0.9.0, an rc before its release")
  func versionOrder() throws {
    let fixture = try Self.pinned()
    let byGit = lines(try git(["-c", "versionsort.suffix=-", "tag", "--sort=version:refname"], in: fixture.hubchart))
      .filter { Version($0) != nil }
    let ours = byGit.shuffled().sorted { Version($0)! < Version($1)! }
    #expect(ours == byGit)
    #expect(Version("docs-latest") == nil)
    // Only semantic versioning's characters: a version is written into files a shell may read.
    #expect(Version("v0.5.0-$(touch x)") == nil && Version("v0.5.0-rc;1") == nil)
    #expect(Version("v0.5.0-rc.1+build.7") != nil)
    #expect(Version("v1.2") == Version("v1.2.0"))
    #expect(Version("1.0.0-rc2")! < Version("1.0.0-rc10")!)
  }

  @Test("the culprits' bumps: one pin, two pins, a chart version; rewriting a checkout changes only the pins")
  func bumpsAndRewrites() throws {
    let fixture = try Self.pinned()
    let repository = try Repository(at: fixture.infra.path)
    let dependencies = [
      PinnedDependency(name: "kubespawner", files: ["hub/Dockerfile"], kind: .pipGit, source: .path("")),
      PinnedDependency(name: "hubchart", files: ["**/Chart.yaml"], kind: .helmChart, source: .path("")),
    ]
    func bumps(_ branch: String) throws -> [PinBump] {
      try PinReading.bumps(
        by: try #require(ObjectID(hex: fixture.branches[branch]!.culprit)), in: repository, dependencies: dependencies)
    }
    let one = try bumps("one-pin")
    #expect(one.map(\.dependency.name) == ["kubespawner"])
    #expect(one.first?.old == [fixture.fact("kubespawner", "good")])
    #expect(one.first?.new == [fixture.fact("kubespawner", "bad")])
    #expect(one.first?.paths == ["hub/Dockerfile"])
    let two = try bumps("two-pins")
    #expect(two.map(\.dependency.name) == ["kubespawner", "hubchart"])
    #expect(two.last.map { [$0.old, $0.new] } == [["0.2.0"], ["0.4.0"]])
    #expect(try bumps("chart").map(\.dependency.name) == ["hubchart"])
    // An unrelated commit changes no pin.
    let unrelated = try #require(
      ObjectID(hex: lines(try git(["rev-list", "--reverse", "main..one-pin"], in: fixture.infra))[0]))
    #expect(try PinReading.bumps(by: unrelated, in: repository, dependencies: dependencies).isEmpty)

    // The rewrite: the checkout's pins change, every other byte stays as the commit has it.
    let checkout = try TemporaryDirectory("checkout")
    try repository.export(try #require(ObjectID(hex: fixture.branches["two-pins"]!.culprit)), to: checkout.url)
    let before = try String(contentsOf: checkout.url.appendingPathComponent("hub/Dockerfile"), encoding: .utf8)
    let chartBefore = try String(contentsOf: checkout.url.appendingPathComponent("chart/Chart.yaml"), encoding: .utf8)
    try PinRewrite(
      dependency: dependencies[0], from: [fixture.fact("kubespawner", "bad")],
      to: "0123456789abcdef0123456789abcdef01234567",
      paths: ["hub/Dockerfile"]
    ).apply(in: checkout.url)
    try PinRewrite(dependency: dependencies[1], from: ["0.4.0"], to: "0.2.0", paths: ["chart/Chart.yaml"]).apply(
      in: checkout.url)
    let after = try String(contentsOf: checkout.url.appendingPathComponent("hub/Dockerfile"), encoding: .utf8)
    #expect(
      after
        == before.replacingOccurrences(
          of: fixture.fact("kubespawner", "bad"), with: "0123456789abcdef0123456789abcdef01234567"))
    let chartAfter = try String(contentsOf: checkout.url.appendingPathComponent("chart/Chart.yaml"), encoding: .utf8)
    #expect(chartAfter == chartBefore.replacingOccurrences(of: "\"0.4.0\"", with: "\"0.2.0\""))
    // The script stays executable; the rewrite leaves no file of its own behind.
    #expect(FileManager.default.isExecutableFile(atPath: checkout.url.appendingPathComponent("smoke.sh").path))
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: checkout.url.appendingPathComponent("hub").path) == [
        "Dockerfile"
      ])

    // A pin that is not there, and a file that is a link out of the checkout, are refused.
    #expect(throws: HuntError.self) {
      try PinRewrite(dependency: dependencies[1], from: ["9.9.9"], to: "0.1.0", paths: ["chart/Chart.yaml"]).apply(
        in: checkout.url)
    }
    let outside = try TemporaryDirectory("outside")
    let target = outside.url.appendingPathComponent("Dockerfile")
    try before.write(to: target, atomically: true, encoding: .utf8)
    try FileManager.default.removeItem(at: checkout.url.appendingPathComponent("hub/Dockerfile"))
    try FileManager.default.createSymbolicLink(
      at: checkout.url.appendingPathComponent("hub/Dockerfile"), withDestinationURL: target)
    #expect(throws: HuntError.self) {
      try PinRewrite(
        dependency: dependencies[0], from: [fixture.fact("kubespawner", "bad")], to: "x", paths: ["hub/Dockerfile"]
      ).apply(in: checkout.url)
    }
    #expect(try String(contentsOf: target, encoding: .utf8) == before)

    // The rewrite's own temporary name, taken by a link out of the checkout (a tree may hold
    // one): the link is replaced, never written through.
    try FileManager.default.removeItem(at: checkout.url.appendingPathComponent("hub/Dockerfile"))
    try before.write(to: checkout.url.appendingPathComponent("hub/Dockerfile"), atomically: false, encoding: .utf8)
    let trap = outside.url.appendingPathComponent("bashrc")
    try "untouched\n".write(to: trap, atomically: true, encoding: .utf8)
    try FileManager.default.createSymbolicLink(
      at: checkout.url.appendingPathComponent("hub/.Dockerfile.bisect-deploy"), withDestinationURL: trap)
    try PinRewrite(
      dependency: dependencies[0], from: [fixture.fact("kubespawner", "bad")], to: "0.1.0", paths: ["hub/Dockerfile"]
    ).apply(in: checkout.url)
    #expect(try String(contentsOf: trap, encoding: .utf8) == "untouched\n")
    #expect(
      try String(contentsOf: checkout.url.appendingPathComponent("hub/Dockerfile"), encoding: .utf8)
        == before.replacingOccurrences(of: fixture.fact("kubespawner", "bad"), with: "0.1.0"))
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: checkout.url.appendingPathComponent("hub").path) == [
        "Dockerfile"
      ])
  }

  @Test("a token in a dependency's url: is masked in messages, the rest of the address kept")
  func tokensInURLsAreMasked() {
    let failed = HuntError.dependencyFetch(
      name: "kubespawner", url: "https://x-access-token:ghs_secret123@github.com/org/kubespawner.git",
      reason: "cannot reach https://x-access-token:ghs_secret123@github.com/org/kubespawner.git")
    let message = failed.errorDescription ?? ""
    #expect(!message.contains("ghs_secret123") && !message.contains("x-access-token"), "\(message)")
    #expect(message.contains("https://***@github.com/org/kubespawner.git"), "\(message)")
  }

  @Test(
    "a commit range is git's graph (every commit with its parents in the range, all or first parents), also with parents newer than children",
    arguments: [false, true])
  func commitRanges(skewed: Bool) throws {
    let fixture = try (skewed ? Self.skewedFixture : Self.fixture).get().1
    let kube = try Repository(at: fixture.kubespawner.path)
    let good = fixture.fact("kubespawner", "good")
    let bad = fixture.fact("kubespawner", "bad")
    for firstParent in [false, true] {
      let range = try DependencyRange.make(name: "kubespawner", old: good, new: bad, in: kube, firstParent: firstParent)
        .get()
      let listing = lines(
        try git(
          ["rev-list", "--parents"] + (firstParent ? ["--first-parent"] : []) + ["\(good)..\(bad)"],
          in: fixture.kubespawner))
      // A first-parent range follows only the first parent of each commit.
      let expected = Self.inRangeParents(listing, firstParent: firstParent)
      var ours = [String: [String]]()
      for number in 0..<range.graph.count {
        ours[range.graph.ids[number].hex] = range.graph.parents(of: number).map { range.graph.ids[$0].hex }
      }
      #expect(range.revisions == .commits)
      #expect(range.graph.count == listing.count, "skewed \(skewed) first-parent \(firstParent)")
      #expect(ours == expected, "skewed \(skewed) first-parent \(firstParent)")
      #expect(range.text(for: range.old) == good && range.text(for: range.new) == bad)
    }
  }

  @Test(
    "pins written as short hashes resolve and are written back as they were; versions are the tags between, in order")
  func ranges() throws {
    let fixture = try Self.pinned()
    let kube = try Repository(at: fixture.kubespawner.path)
    let good = fixture.fact("kubespawner", "good")
    let bad = fixture.fact("kubespawner", "bad")
    // Short hashes as pinned resolve too, and are written back as they were at the ends.
    let short = try DependencyRange.make(
      name: "kubespawner", old: String(good.prefix(8)), new: String(bad.prefix(8)), in: kube, firstParent: false
    ).get()
    #expect(short.text(for: short.old) == String(good.prefix(8)))

    let chart = try Repository(at: fixture.hubchart.path)
    let versions = try DependencyRange.make(
      name: "hubchart", old: "0.2.0", new: "0.10.0", in: chart, firstParent: false
    )
    .get()
    #expect(versions.revisions == .versions)
    let byGit = lines(try git(["-c", "versionsort.suffix=-", "tag", "--sort=version:refname"], in: fixture.hubchart))
    let between = Array(byGit.drop { $0 != "v0.2.0" }.dropFirst().prefix { $0 != "v0.10.0" }) + ["v0.10.0"]
    // The graph is a line from the newest version down: its ids in reverse are the versions' commits.
    #expect(versions.graph.ids.reversed().map { versions.text(for: $0) } == between.map { String($0.dropFirst()) })
    #expect(versions.graph.ids.reversed().map(\.hex) == between.map { fixture.versions[String($0.dropFirst())]! })

    // Refusals: a downgrade, a fork, a branch, a name that is nothing.
    func refusal(_ old: String, _ new: String, in repository: Repository) -> String {
      if case .failure(let refusal) = DependencyRange.make(
        name: "x", old: old, new: new, in: repository, firstParent: false)
      {
        return refusal.reason
      }
      return "accepted"
    }
    #expect(refusal(good, fixture.fact("kubespawner", "beforeRequired"), in: kube).hasPrefix("a downgrade"))
    #expect(refusal(good, fixture.fact("kubespawner", "fork"), in: kube).contains("not an ancestor"))
    #expect(refusal(good, "fork", in: kube).contains("is a branch"))
    #expect(refusal(good, "no-such-thing", in: kube).contains("names no tag or commit"))
    #expect(refusal("0.4.0", "0.2.0", in: chart).hasPrefix("a downgrade"))
  }

  @Test("dependencies: every key is read; wrong ones are named with their line")
  func configuration() throws {
    let folder = try TemporaryDirectory("config")
    let path = folder.url.appendingPathComponent("bisect-deploy.yml").path
    let text = """
      test: ./smoke.sh
      descend_dependencies: true
      allow_network: yes
      dependencies:
        kubespawner:
          kind: pip-git
          files: [hub/Dockerfile, "requirements*.txt"]
          repo: ../kubespawner
        z2jh:
          kind: helm-chart
          project: jupyterhub
          files: "**/Chart.yaml"
          url: https://github.com/jupyterhub/zero-to-jupyterhub-k8s
        custom:
          pattern: 'SPAWNER_REF=([0-9a-f]+)'
          files: env
          repo: /srv/custom
      """
    let configuration = try Configuration.parse(text, path: path)
    #expect(configuration.descendDependencies && configuration.allowNetwork)
    #expect(configuration.dependencies.map(\.name) == ["kubespawner", "z2jh", "custom"])
    let first = configuration.dependencies[0]
    #expect(first.kind == .pipGit && first.files == ["hub/Dockerfile", "requirements*.txt"])
    #expect(
      first.source
        == .path(folder.url.deletingLastPathComponent().appendingPathComponent("kubespawner").standardizedFileURL.path))
    #expect(configuration.dependencies[1].pattern == PinKind.helmChart.pattern(project: "jupyterhub"))
    #expect(configuration.dependencies[1].source == .url("https://github.com/jupyterhub/zero-to-jupyterhub-k8s"))
    #expect(configuration.dependencies[2].kind == nil && configuration.dependencies[2].source == .path("/srv/custom"))

    let wrong: [(String, String, Int)] = [
      ("  a:\n    pattern: '(a)(b)'\n    files: x\n    repo: r", "exactly one group", 3),
      ("  a:\n    pattern: '(unclosed'\n    files: x\n    repo: r", "not a regular expression", 3),
      ("  a:\n    kind: pip-git\n    pattern: '(a)'\n    files: x\n    repo: r", "either kind or pattern", 4),
      ("  a:\n    kind: npm\n    files: x\n    repo: r", "unknown value 'npm'", 3),
      ("  a:\n    kind: pip-git\n    repo: r", "'files' is missing", 2),
      ("  a:\n    kind: pip-git\n    files: x", "say where its history is", 2),
      ("  a:\n    kind: pip-git\n    files: x\n    repo: r\n    url: u", "either repo or url", 6),
      ("  a:\n    kind: pip-git\n    files: x\n    repo: r\n    branch: main", "unknown key", 6),
      ("  ../a:\n    kind: pip-git\n    files: x\n    repo: r", "names a folder", 2),
    ]
    for (body, problem, line) in wrong {
      do {
        _ = try Configuration.parse("dependencies:\n" + body, path: "bisect-deploy.yml")
        Issue.record("accepted: \(body)")
      } catch {
        let message = error.errorDescription ?? ""
        #expect(message.contains(problem), "\(message)")
        #expect(message.hasPrefix("bisect-deploy.yml:\(line):"), "\(message)")
      }
    }
    // --descend-deps without any dependency is refused before anything is deployed.
    var bare = Configuration()
    bare.descendDependencies = true
    #expect(bare.dependencyProblem() != nil)
  }
}
