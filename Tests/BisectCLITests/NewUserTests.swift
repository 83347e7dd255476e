import Foundation
import TestSupport
import Testing

/// What a new user trips on first (issue 27), through the release binary: a test that is not
/// in the commit's checkout, `revert-branch` after a conflicted revert, `--confirm` under
/// `--flaky`, a stopped hunt's way out, and one meaning of "steps" and of the hunt's time.
@Suite struct NewUserTests {
  typealias Bench = HuntTests.Bench

  /// A test script present in the folder the user runs from but committed nowhere.
  static func uncommittedScript(in bench: Bench) throws -> String {
    let script = bench.repo.appendingPathComponent("smoke.sh")
    try "#!/bin/sh\nexit 0\n".write(to: script, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
    return "./smoke.sh"
  }

  @Test("a test script that is not committed is said to be missing from the commit's checkout (exit 7), not blamed")
  func testNotFoundAtEndpoint() throws {
    let bench = try Bench(commits: 40, seed: 5)
    let output = try bench.hunt(["--test", try Self.uncommittedScript(in: bench)])
    #expect(output.status == 7, "\(output.stdout)\(output.stderr)")
    #expect(output.stdout.contains("was not found (exit 127) in the clean checkout of good"), "\(output.stdout)")
    #expect(output.stdout.contains("commit it, or give --test (or test:) an absolute path"))
    #expect(!output.stdout.contains("contradict"))
  }

  @Test("a test that cannot be executed (exit 126) is said to be so, with how to run it")
  func testNotExecutableAtEndpoint() throws {
    let bench = try Bench(commits: 40, seed: 5)
    // `config` is a folder in every commit: the shell finds it and cannot run it.
    let output = try bench.hunt(["--test", "./config"])
    #expect(output.status == 7, "\(output.stdout)\(output.stderr)")
    #expect(output.stdout.contains("could not be run (exit 126: not executable) in the clean checkout of good"))
  }

  @Test("127 on bad alone is a verdict like any other, as with git bisect run: the culprit is named")
  func status127OnBadOnly() throws {
    let bench = try Bench(commits: 60, seed: 9)
    let culprit = try bench.commit(17)
    let test = "git -C \"$BISECT_REPO\" merge-base --is-ancestor \(culprit) \"$BISECT_COMMIT\" && exit 127; exit 0"
    let output = try bench.hunt(["--test", test])
    #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
    #expect(output.stdout.contains("The first bad commit is \(culprit)"))
  }

  @Test("revert-branch after the newest revert conflicted makes nothing and names the hunt that has a revert commit")
  func revertBranchRefusesAnOlderHuntsRevert() throws {
    let bench = try RevertBench()
    let first = try bench.hunt(bad: "pass", ["--confirm-revert"])
    #expect(first.status == 0, "\(first.stderr)")
    let conflicted = try bench.hunt(bad: "conflict", ["--confirm-revert"])
    #expect(conflicted.status == 0, "\(conflicted.stderr)")

    let branch = try bisectDeploy(["revert-branch", "--repo", bench.repo.path, "rb3"], environment: bench.environment)
    #expect(branch.status == 64, "\(branch.stdout)\(branch.stderr)")
    #expect(branch.stderr.contains("Hunt #2: its revert conflicted (a.txt)"), "\(branch.stderr)")
    #expect(branch.stderr.contains("bisect-deploy revert-branch --hunt 1 rb3"), "\(branch.stderr)")
    let made = try runProcess(
      "/usr/bin/env", ["git", "rev-parse", "--verify", "-q", "refs/heads/rb3"], in: bench.repo,
      environment: gitEnvironment)
    #expect(made.status == 1, "no branch may be made: \(made.stdout)")

    let named = try bisectDeploy(
      ["revert-branch", "--repo", bench.repo.path, "--hunt", "1", "rb3"], environment: bench.environment)
    #expect(named.status == 0, "\(named.stderr)")
    #expect(named.stdout.contains("(hunt #1, refs/bisect-deploy/revert/1)"))
  }

  /// The culprit's predicate, except that the first confirmation run on a commit without the
  /// culprit fails once: a flaky test's lie, right where `--confirm` looks.
  static func lyingAtConfirmation(_ bench: Bench, culprit: String) -> String {
    "git -C \"$BISECT_REPO\" merge-base --is-ancestor \(culprit) \"$BISECT_COMMIT\" && exit 1; "
      + "if [ \"$BISECT_PHASE\" = confirm ] && [ ! -e \"$MARKERS/lied\" ]; then touch \"$MARKERS/lied\"; exit 1; fi; exit 0"
  }

  @Test("under --flaky, --confirm is judged by the model: a parent failing 1 of 5 still confirms the culprit")
  func flakyConfirmationUsesTheModel() throws {
    let bench = try Bench(commits: 80, seed: 13)
    let culprit = try bench.commit(21)
    let output = try bench.hunt([
      "--test", Self.lyingAtConfirmation(bench, culprit: culprit), "--flaky", "--confirm", "5",
    ])
    #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
    #expect(output.stdout.contains("The first bad commit is \(culprit)"))
    #expect(output.stdout.contains("Confirmation holds by the flaky model"), "\(output.stdout)")
    #expect(output.stdout.contains("failed 1 of 5 (good with probability"), "\(output.stdout)")
  }

  @Test("without --flaky the same lie makes the all-or-nothing confirmation fail, as documented")
  func plainConfirmationIsAllOrNothing() throws {
    let bench = try Bench(commits: 80, seed: 13)
    let culprit = try bench.commit(21)
    let output = try bench.hunt(["--test", Self.lyingAtConfirmation(bench, culprit: culprit), "--confirm", "5"])
    #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
    #expect(output.stdout.contains("Confirmation does NOT hold: culprit"), "\(output.stdout)")
  }

  /// The backticked command of the summary line that starts with `prefix`, as words.
  static func printedCommand(_ output: String, after prefix: String) throws -> [String] {
    let start = try #require(output.range(of: "`bisect-deploy \(prefix) "), "no `\(prefix)` in: \(output)")
    let rest = output[start.upperBound...]
    let end = try #require(rest.firstIndex(of: "`"))
    // The words are plain here (a number and a temporary path without spaces).
    return [prefix] + rest[..<end].split(separator: " ").map(String.init)
  }

  @Test("a stopped hunt says it stays open and prints the resume command, which finishes it")
  func stoppedHuntGivesItsResumeCommand() throws {
    let bench = try Bench(commits: 120, seed: 31)
    let culprit = try bench.commit(40)
    let test = "sleep 0.4; " + bench.predicate(culprit: culprit)
    let stopped = try bench.hunt(["--test", test, "--max-duration", "1"])
    #expect(stopped.status == 8, "\(stopped.stdout)\(stopped.stderr)")
    #expect(stopped.stdout.contains("Hunt #1 stays open"), "\(stopped.stdout)")
    #expect(stopped.stdout.contains("with other settings is refused (exit 75)"))
    // The steps it says it ran are the steps the state holds: a step stopped midway is not one.
    let said = try #require(
      stopped.stdout.range(of: "ran out after ").map { stopped.stdout[$0.upperBound...].prefix { $0.isNumber } })
    let hunts = try bisectDeploy(["hunts", "--repo", bench.repo.path], environment: bench.environment)
    #expect(hunts.stdout.contains(" \(said) steps unfinished"), "said \(said): \(hunts.stdout)")

    let resume = try Self.printedCommand(stopped.stdout, after: "resume")
    #expect(resume.contains("--repo"))
    // The stored command keeps --max-duration: each resume goes on where the last one stopped.
    var resumed = try bisectDeploy(resume, environment: bench.environment)
    for _ in 0..<20 where resumed.status == 8 {
      #expect(try Self.printedCommand(resumed.stdout, after: "resume") == resume)
      resumed = try bisectDeploy(resume, environment: bench.environment)
    }
    #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
    #expect(resumed.stdout.contains("The first bad commit is \(culprit)"))
  }

  @Test("the printed reset command ends a stopped hunt, after which a hunt with other settings may start")
  func stoppedHuntGivesItsResetCommand() throws {
    let bench = try Bench(commits: 120, seed: 31)
    let culprit = try bench.commit(40)
    let stopped = try bench.hunt(["--test", "sleep 0.4; " + bench.predicate(culprit: culprit), "--max-duration", "1"])
    #expect(stopped.status == 8, "\(stopped.stdout)\(stopped.stderr)")
    let reset = try bisectDeploy(
      try Self.printedCommand(stopped.stdout, after: "reset"), environment: bench.environment)
    #expect(reset.status == 0, "\(reset.stdout)\(reset.stderr)")
    let other = try bench.hunt(["--test", bench.predicate(culprit: culprit), "--first-parent"])
    #expect(other.status == 0, "\(other.stdout)\(other.stderr)")
  }

  @Test("the header, the summary and the report count the same steps and the same time")
  func oneMeaningOfSteps() throws {
    let bench = try Bench(commits: 120, seed: 31)
    let culprit = try bench.commit(40)
    let report = bench.directory.url.appendingPathComponent("hunt.md")
    let output = try bench.hunt(["--test", bench.predicate(culprit: culprit), "--report", report.path])
    #expect(output.status == 0, "\(output.stderr)")
    // Two endpoint checks (bad, then the good) come before the bisection, in the header too.
    #expect(output.stderr.contains("steps (2 endpoint checks, then about"), "\(output.stderr)")
    let summary = try #require(lines(output.stdout).first { $0.hasPrefix("Steps: ") })
    let steps = try #require(Int(summary.dropFirst("Steps: ".count).prefix { $0.isNumber }))
    #expect(summary.contains("(2 endpoint checks, \(steps - 2) bisection) in "), "\(summary)")
    // The summary's time is the report's: both from the stored start and end of the hunt.
    let time = try #require(
      summary.range(of: " in ").map { summary[$0.upperBound...] }?.components(separatedBy: " on ").first)
    let markdown = try String(contentsOf: report, encoding: .utf8)
    #expect(markdown.contains("Time spent: \(time) in all"), "summary: \(summary)\n\(markdown)")
    #expect(markdown.contains("\(steps) steps"), "\(markdown)")
  }

  @Test("a hunt without a deploy command restores nothing and says nothing of a restore")
  func noDeployNoRestore() throws {
    let bench = try Bench(commits: 40, seed: 5)
    let culprit = try bench.commit(7)
    let output = try bench.hunt(["--test", bench.predicate(culprit: culprit), "--verbose"])
    #expect(output.status == 0, "\(output.stderr)")
    #expect(!output.stderr.contains("restoring to"), "\(output.stderr)")
    let json = try bench.hunt(["--test", bench.predicate(culprit: culprit), "--json"])
    let result = try #require(try FlakyHuntTests.decode(json).last)
    #expect(result["restoredTo"] is NSNull, "\(result)")
  }
}
