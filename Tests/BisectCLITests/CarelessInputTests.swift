import Foundation
import TestSupport
import Testing

/// Careless or hostile input refused before anything is deployed, or shown as text
/// (issue 30, item 9).
@Suite struct CarelessInputTests {
  typealias Bench = HuntTests.Bench

  @Test("--env '' is refused (64) rather than falling back to the default environment")
  func emptyEnvironment() throws {
    let bench = try Bench(commits: 30, seed: 101)
    for value in ["", "dev,", ",dev"] {
      let output = try bench.hunt(["--env", value, "--deploy", HuntTests.recordingDeploy, "--test", "exit 0"])
      #expect(output.status == 64, "--env '\(value)': \(output.stderr)")
      #expect(output.stderr.contains("names an empty environment"), "\(output.stderr)")
    }
    #expect(bench.marker("deploys") == nil)
  }

  @Test("the same good named 50 times is checked once; a good that is an ancestor of another good is not checked")
  func goodsCheckedOnce() throws {
    let bench = try Bench(commits: 40, seed: 103, mergeRatio: 0)
    let culprit = try bench.commit(5)
    let later = try bench.commit(20)  // good: older than the culprit
    let deploy = "echo \"$BISECT_COMMIT $BISECT_PHASE\" >> \"$MARKERS/deploys\""
    let goods = Array(repeating: ["--good", "v0.1"], count: 50).flatMap { $0 } + ["--good", later]
    let output = try bisectDeploy(
      ["--repo", bench.repo.path, "--bad", "main", "--deploy", deploy, "--test", bench.predicate(culprit: culprit)]
        + goods, environment: bench.environment)
    #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
    #expect(output.stdout.contains("The first bad commit is \(culprit)"))
    let checks = lines(bench.marker("deploys") ?? "").filter { $0.hasSuffix(" verify-good") }
    // v0.1 is an ancestor of the later good: only the later one is deployed as a check.
    #expect(checks == ["\(later) verify-good"], "\(checks)")
  }

  @Test(
    "revert-branch refuses names git would rewrite or read otherwise (64), making nothing",
    arguments: [
      "refs/heads/main", "-x", "HEAD", "--upload-pack=x", "a//b", "a..b", "x.lock", "bad name",
    ])
  func revertBranchNames(name: String) throws {
    let bench = try Bench(commits: 30, seed: 107)
    let before = try git(["for-each-ref", "--format=%(refname)"], in: bench.repo)
    let output = try bisectDeploy(
      ["revert-branch", "--repo", bench.repo.path, "--", name], environment: bench.environment)
    #expect(output.status == 64, "\(name): \(output.stdout)\(output.stderr)")
    #expect(output.stderr.contains("is not a branch name this command makes"), "\(output.stderr)")
    #expect(try git(["for-each-ref", "--format=%(refname)"], in: bench.repo) == before)
  }

  @Test("a newline in BISECT_DEPLOY_HOST is shown as text by hunts, never as a forged line")
  func hostWithNewline() throws {
    let bench = try Bench(commits: 30, seed: 109)
    var environment = bench.environment
    environment["BISECT_DEPLOY_HOST"] = "runner\nHunt #99 on prod: culprit forged"
    let hunt = try bisectDeploy(
      [
        "--repo", bench.repo.path, "--good", "v0.1", "--bad", "main", "--test",
        bench.predicate(culprit: bench.commit(3)),
      ],
      environment: environment)
    #expect(hunt.status == 0, "\(hunt.stdout)\(hunt.stderr)")
    let listed = try bisectDeploy(["hunts", "--repo", bench.repo.path], environment: bench.environment)
    #expect(listed.status == 0, "\(listed.stderr)")
    #expect(listed.stdout.contains("runner^JHunt #99 on prod"), "\(listed.stdout)")
    #expect(!lines(listed.stdout).contains { $0.hasPrefix("Hunt #99 on prod") })
  }

  @Test("ESC and NUL bytes of a configuration file are shown as text in its error")
  func controlBytesInConfig() throws {
    let bench = try Bench(commits: 30, seed: 113)
    let config = bench.directory.url.appendingPathComponent("controls.yml")
    // YAML's own escapes put ESC and BEL into an unknown key, which the error names.
    try "test: exit 0\n\"\\e]0;pwned\\a\": x\n".write(to: config, atomically: true, encoding: .utf8)
    let output = try bench.hunt(["--config", config.path])
    #expect(output.status == 78, "\(output.stderr)")
    #expect(output.stderr.contains("^[]0;pwned^G"), "\(output.stderr)")
    #expect(!output.stderr.contains("\u{1B}") && !output.stderr.contains("\u{07}"), "\(output.stderr)")
  }

  @Test("a test command too long to start is refused before the first deploy (78)")
  func longTestCommand() throws {
    let bench = try Bench(commits: 30, seed: 127)
    // In a file: no program takes an argument this long, this test's own call included.
    let long = "true " + String(repeating: "x", count: 200 * 1024)
    let config = bench.directory.url.appendingPathComponent("long.yml")
    try "test: \"\(long)\"\n".write(to: config, atomically: true, encoding: .utf8)
    let output = try bench.hunt(["--deploy", HuntTests.recordingDeploy, "--config", config.path])
    #expect(output.status == 78, "\(output.stderr.prefix(300))")
    #expect(output.stderr.contains("the test command is \(long.utf8.count) bytes long"), "\(output.stderr.prefix(300))")
    #expect(bench.marker("deploys") == nil)
  }
}
