import Foundation
import TestSupport
import Testing

/// `bisect-deploy plan` takes a hunt's options and configuration, through the release binary:
/// the round size of the environments, the hunt's own refusals, the endpoint checks in the
/// estimate, and every other option named as ignored.
@Suite struct PlanCommandTests {
  final class Shared: Sendable {
    let directory: TemporaryDirectory
    let repo: URL
    init() throws {
      directory = try TemporaryDirectory()
      repo = try makeHistory(HistoryShape(commits: 120, seed: 31, mergeRatio: 0.25), in: directory.url)
    }
  }

  static let shared = Result { try Shared() }
  static let range = ["--good", "v0.1", "--bad", "main"]

  static func plan(_ arguments: [String], in repo: URL? = nil) throws -> ProcessOutput {
    try bisectDeploy(["plan"] + range + arguments, in: repo ?? (try shared.get().repo))
  }

  /// `plan --json`'s object.
  static func planJSON(_ arguments: [String], in repo: URL? = nil) throws -> [String: Any] {
    // Before the arguments: after `--` it would be a path.
    let output = try plan(["--json"] + arguments, in: repo)
    try #require(output.status == 0, "\(output.stderr)")
    return try #require(try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any])
  }

  /// What git counts between the ends (`git rev-list --count main ^v0.1 ...`).
  static func gitCount(_ arguments: [String], in repo: URL? = nil) throws -> Int {
    let text = try git(["rev-list", "--count"] + arguments, in: repo ?? (try shared.get().repo))
    return try #require(Int(text.trimmingCharacters(in: .whitespacesAndNewlines)))
  }

  @Test("plan --env a,b,c answers 0 with a first round of 3 commits, one per environment")
  func threeEnvironments() throws {
    let output = try Self.plan(["--env", "a,b,c"])
    #expect(output.status == 0, "\(output.stderr)")
    let text = lines(output.stdout)
    #expect(text.contains("first round after the endpoint checks: 3 commits, one per environment"), "\(output.stdout)")
    #expect(Set(text.filter { $0.hasPrefix("first: ") }).count == 3, "\(output.stdout)")
  }

  @Test("plan --parallel 3 without --env-pool is refused with the hunt's own error and exit 64")
  func parallelWithoutPool() throws {
    let plan = try Self.plan(["--parallel", "3"])
    let hunt = try bisectDeploy(Self.range + ["--test", "true", "--parallel", "3"], in: try Self.shared.get().repo)
    #expect(plan.status == 64, "\(plan.stderr)")
    #expect(plan.stderr == hunt.stderr)
    #expect(plan.stderr.hasPrefix("bisect-deploy: error: --parallel goes with --env-pool"), "\(plan.stderr)")
  }

  @Test("with --env-pool, --parallel K makes rounds of K steps")
  func poolRounds() throws {
    let plan = try Self.planJSON(["--env-pool", "a,b,c,d", "--parallel", "3"])
    #expect((plan["firstRound"] as? [Any])?.count == 3, "\(plan)")
    #expect(plan["parallel"] as? Int == 3)
    #expect(plan["pool"] as? Bool == true)
  }

  @Test(
    "the estimate counts the endpoint checks, bad then each good that is no other good's ancestor, as the hunt's first line does"
  )
  func endpointChecksCounted() throws {
    // One of the two goods is an ancestor of the other: good if that one is, and not checked.
    let plan = try Self.planJSON(["--good", "unmerged"])
    let rounds = try #require(plan["estimatedRounds"] as? Int)
    #expect(plan["endpointChecks"] as? Int == 2, "\(plan)")
    #expect(plan["estimatedSteps"] as? Int == 2 + rounds)
    let text = try Self.plan(["--good", "unmerged"])
    #expect(
      text.stdout.contains("about \(2 + rounds) steps (2 endpoint checks, then about \(rounds)"), "\(text.stdout)")
  }

  @Test("--no-verify leaves the endpoint checks out of the estimate")
  func noVerify() throws {
    let plan = try Self.planJSON(["--no-verify"])
    #expect(plan["endpointChecks"] as? Int == 0, "\(plan)")
    #expect(plan["estimatedSteps"] as? Int == plan["estimatedRounds"] as? Int)
  }

  @Test("--descend plans its first stage along first parents: git rev-list --first-parent counts the candidates")
  func descendAlongFirstParents() throws {
    let plan = try Self.planJSON(["--descend"])
    let expected = try Self.gitCount(["--first-parent", "main", "^v0.1"])
    #expect(plan["candidates"] as? Int == expected, "\(plan)")
    #expect(plan["firstParent"] as? Bool == true)
  }

  @Test("paths after -- limit the candidates as git rev-list -- PATH does")
  func paths() throws {
    let plan = try Self.planJSON(["--", "config"])
    let expected = try Self.gitCount(["main", "^v0.1", "--", "config"])
    #expect(plan["candidates"] as? Int == expected, "\(plan)")
  }

  @Test("--flaky estimates test runs, about ceil(log2 N), one at a time")
  func flakyEstimate() throws {
    let plan = try Self.planJSON(["--flaky"])
    let candidates = try #require(plan["candidates"] as? Int)
    #expect(plan["flaky"] as? Bool == true, "\(plan)")
    #expect(plan["estimatedRounds"] as? Int == Int(ceil(log2(Double(candidates)))))
  }

  @Test("the repository's bisect-deploy.yml is read as a hunt reads it: environments and first_parent")
  func repositoryConfiguration() throws {
    let directory = try TemporaryDirectory()
    let repo = try makeHistory(HistoryShape(commits: 40, seed: 32, mergeRatio: 0.25), in: directory.url)
    try "environment: [dev1, dev2]\nfirst_parent: true\n".write(
      to: repo.appendingPathComponent("bisect-deploy.yml"), atomically: true, encoding: .utf8)
    let plan = try Self.planJSON([], in: repo)
    #expect(plan["environments"] as? [String] == ["dev1", "dev2"], "\(plan)")
    let expected = try Self.gitCount(["--first-parent", "main", "^v0.1"], in: repo)
    #expect(plan["candidates"] as? Int == expected)
  }

  @Test("--config is read as a hunt reads it, and a wrong one is refused with the hunt's exit 78")
  func explicitConfiguration() throws {
    let directory = try TemporaryDirectory()
    let good = directory.url.appendingPathComponent("good.yml")
    try "env_pool: [a, b, c]\nparallel: 2\n".write(to: good, atomically: true, encoding: .utf8)
    let plan = try Self.planJSON(["--config", good.path])
    #expect(plan["parallel"] as? Int == 2, "\(plan)")
    let bad = directory.url.appendingPathComponent("bad.yml")
    try "paralel: 2\n".write(to: bad, atomically: true, encoding: .utf8)
    let refused = try Self.plan(["--config", bad.path])
    #expect(refused.status == 78, "\(refused.stderr)")
  }

  @Test("an option that does not change the plan is accepted and named on stderr as ignored")
  func ignoredOptionSaid() throws {
    let output = try Self.plan(["--deploy", "./deploy.sh", "--test", "./smoke.sh"])
    #expect(output.status == 0, "\(output.stderr)")
    #expect(lines(output.stderr) == ["note: plan ignores --deploy, --test: they do not change the plan."])
  }

  @Test("every hunt option that does not change the plan is accepted and listed in --json's ignoredOptions")
  func everyIgnoredOption() throws {
    let directory = try TemporaryDirectory()
    let ignored: [(String, [String])] = [
      ("--deploy", ["./deploy.sh"]), ("--test", ["./smoke.sh"]), ("--restore", ["none"]),
      ("--allow-protected", ["prod"]), ("--deploy-timeout", ["5m"]), ("--test-timeout", ["5m"]),
      ("--max-duration", ["1h"]), ("--wait-for-env", ["1m"]), ("--lease-duration", ["40s"]),
      ("--lease-renew", ["5s"]), ("--repeat", ["3"]), ("--repeat-rule", ["any-bad"]), ("--confirm", ["2"]),
      ("--confirm-revert", []), ("--descend-deps", []), ("--allow-network", []), ("--reuse-verdicts", []),
      ("--state", [directory.url.appendingPathComponent("state.sqlite").path]),
      ("--report", [directory.url.appendingPathComponent("r.md").path]), ("--quiet", []), ("--verbose", []),
    ]
    let plan = try Self.planJSON(ignored.flatMap { [$0.0] + $0.1 })
    #expect((plan["ignoredOptions"] as? [String])?.sorted() == ignored.map(\.0).sorted(), "\(plan)")
  }
}
