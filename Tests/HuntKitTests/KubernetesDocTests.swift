import Foundation
import HuntKit
import Runner
import TestSupport
import Testing

/// Keeps docs/kubernetes.md honest. There is no cluster here: these tests check that its
/// configuration parses with our parser, that its scripts are valid sh, and that the two main
/// scripts do what the page says when stand-ins play kubectl and helm. They prove nothing about
/// a real cluster, and the page says so.
@Suite("docs/kubernetes.md")
struct KubernetesDocTests {
  /// A fenced block of the page, with the file name written on the line before it, if any.
  struct Block: Sendable {
    var language: String
    var fileName: String?
    var text: String
    var line: Int
  }

  static let page = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()  // HuntKitTests
    .deletingLastPathComponent()  // Tests
    .deletingLastPathComponent()  // package root
    .appendingPathComponent("docs/kubernetes.md")

  static let commit = "81d0e44c2b7a9f3e5d6c1b0a99887766554433ab"

  /// Every fenced block of the page, in order. A block indented under a list item loses that
  /// indentation.
  static func blocks() throws -> [Block] {
    let lines = try String(contentsOf: page, encoding: .utf8).components(separatedBy: "\n")
    var blocks = [Block]()
    var previous: String?
    var index = 0
    while index < lines.count {
      let trimmed = lines[index].trimmingCharacters(in: .whitespaces)
      guard trimmed.hasPrefix("```") else {
        if !trimmed.isEmpty { previous = trimmed }
        index += 1
        continue
      }
      let indent = lines[index].prefix { $0 == " " }.count
      var body = [String]()
      var end = index + 1
      while end < lines.count, !lines[end].trimmingCharacters(in: .whitespaces).hasPrefix("```") {
        body.append(String(lines[end].dropFirst(min(indent, lines[end].prefix { $0 == " " }.count))))
        end += 1
      }
      blocks.append(
        Block(
          language: String(trimmed.dropFirst(3)).trimmingCharacters(in: .whitespaces),
          fileName: previous.flatMap(fileName), text: body.joined(separator: "\n") + "\n", line: index + 1))
      previous = nil
      index = end + 1
    }
    return blocks
  }

  /// The file a line like "`ci/bisect/deploy.sh`:" or "`ci/bisect/setup.sh` (run once ...):"
  /// names for the block after it.
  static func fileName(_ line: String) -> String? {
    guard line.hasPrefix("`"), line.hasSuffix(":") else { return nil }
    let inner = line.dropFirst().dropLast()
    guard let close = inner.firstIndex(of: "`") else { return nil }
    let rest = inner[inner.index(after: close)...]
    guard rest.isEmpty || (rest.hasPrefix(" (") && rest.hasSuffix(")")) else { return nil }
    return String(inner[..<close])
  }

  static func block(_ name: String, in blocks: [Block]) throws -> Block {
    let matching = blocks.filter { $0.fileName == name }
    #expect(matching.count == 1, "one block after the line `\(name)`:, found \(matching.count)")
    return try #require(matching.first)
  }

  static func configuration(_ blocks: [Block]) throws -> Configuration {
    let block = try block("bisect-deploy.yml", in: blocks)
    #expect(block.language == "yaml")
    return try Configuration.parse(block.text, path: "docs/kubernetes.md:\(block.line)")
  }

  /// The default of `${NAME:-value}` in a script.
  static func fallback(of variable: String, in script: String) -> String? {
    guard let start = script.range(of: "${\(variable):-") else { return nil }
    let rest = script[start.upperBound...]
    return rest.firstIndex(of: "}").map { String(rest[..<$0]) }
  }

  /// The script's lines with backslash continuations joined.
  static func logicalLines(_ script: String) -> [String] {
    var joined = [String]()
    var pending = ""
    for line in script.components(separatedBy: "\n") {
      if line.hasSuffix("\\") {
        pending += line.dropLast() + " "
      } else {
        joined.append(pending + line)
        pending = ""
      }
    }
    return joined
  }

  @Test("the configuration parses: bisect-1 to bisect-3 in use with their own namespaces, prod protected")
  func configurationParses() throws {
    let blocks = try Self.blocks()
    let configuration = try Self.configuration(blocks)
    let inUse = try configuration.environmentsInUse()
    #expect(inUse.map(\.name) == ["bisect-1", "bisect-2", "bisect-3"])
    let namespaces = inUse.compactMap { $0.variables["NAMESPACE"] }
    #expect(namespaces.count == 3 && Set(namespaces).count == 3, "each environment has its own NAMESPACE")
    #expect(inUse.allSatisfy { !$0.isProtected && $0.variables["PRIVATE"] == "yes" })
    let prod = try #require(configuration.environments["prod"])
    #expect(prod.isProtected)
    #expect(prod.variables["PRIVATE"] == nil, "the private-copy values never go to prod")
    #expect(prod.variables["NAMESPACE"].map { !namespaces.contains($0) } == true)
    #expect(configuration.restoreTarget == .revision("known-good"))
    #expect(configuration.testTimeoutPolicy == .skip)
    #expect(configuration.deployCommand == #""$BISECT_REPO/ci/bisect/deploy.sh""#)
    #expect(configuration.testCommand == #""$BISECT_REPO/ci/bisect/kernel-test.sh""#)
    for script in ["ci/bisect/deploy.sh", "ci/bisect/kernel-test.sh"] {
      #expect(try Self.block(script, in: blocks).language == "sh")
    }
  }

  @Test("the timeouts leave room: Helm's upgrade and rollback fit the deploy and restore, the Job fits the test")
  func timeoutsFitTheScripts() throws {
    let blocks = try Self.blocks()
    let configuration = try Self.configuration(blocks)
    let deploy = try Self.block("ci/bisect/deploy.sh", in: blocks).text
    let test = try Self.block("ci/bisect/kernel-test.sh", in: blocks).text
    let helm = try #require(Self.fallback(of: "HELM_TIMEOUT", in: deploy).flatMap(parseDuration))
    let job = try #require(Self.fallback(of: "SMOKE_RUN_TIMEOUT", in: test).flatMap(parseDuration))
    #expect(deploy.contains(#"--timeout "$helm_timeout""#))
    // --atomic may spend Helm's timeout twice: the upgrade, then the rollback.
    #expect(try #require(configuration.deployTimeout) > helm * 2)
    #expect(try #require(configuration.restoreTimeout) > helm * 2)
    // The wrapper gives up, then deletes its Job, before bisect-deploy kills it.
    #expect(try #require(configuration.testTimeout) > job + .seconds(60))
    #expect(configuration.gracePeriod >= .seconds(10))
  }

  @Test("every sh block passes /bin/sh -n, has no eval, and passes no BISECT_ variable into sh -c")
  func shellBlocks() throws {
    let blocks = try Self.blocks().filter { $0.language == "sh" }
    #expect(blocks.count >= 5, "deploy.sh, kernel-test.sh, deployed-commit.sh, setup.sh, preflight.sh")
    let directory = try TemporaryDirectory("kubernetes-doc")
    let eval = try Regex("(^|[^A-Za-z0-9_])eval([^A-Za-z0-9_]|$)")
    let shellCommandString = try Regex(#"(^|[\s"'/;|&(])(ba|da|z)?sh\s+-[a-z]*c([\s"']|$)"#)
    for block in blocks {
      let place = "the sh block at docs/kubernetes.md:\(block.line)"
      let file = directory.url.appendingPathComponent("block-\(block.line).sh")
      try block.text.write(to: file, atomically: true, encoding: .utf8)
      let check = try runProcess("/bin/sh", ["-n", file.path])
      #expect(check.status == 0, "\(place): \(check.stderr)")
      #expect(!block.text.contains(eval), "\(place) uses eval")
      for line in Self.logicalLines(block.text) where line.contains(shellCommandString) {
        #expect(!line.contains("$BISECT_") && !line.contains("${BISECT_"), "\(place) builds sh -c text: \(line)")
      }
    }
  }

  /// The command line the smoke-test Job runs, from its `command:` line (a JSON-style list).
  static func jobCommand(_ blocks: [Block]) throws -> [String] {
    let job = try block("ci/bisect/kernel-smoke-job.yaml", in: blocks)
    let line = try #require(lines(job.text).first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("command:") })
    let list = try #require(line.range(of: "command:").map { line[$0.upperBound...] })
    return try #require(try JSONSerialization.jsonObject(with: Data(list.utf8)) as? [String])
  }

  @Test("the smoke-test Job runs bisect-deploy smoke kernel with the token from the Secret; no program to ship")
  func smokeJob() throws {
    let blocks = try Self.blocks()
    let command = try Self.jobCommand(blocks)
    #expect(Array(command.prefix(3)) == ["bisect-deploy", "smoke", "kernel"], "\(command)")
    #expect(command.contains("--hub") && command.contains("--user"), "\(command)")
    let job = try Self.block("ci/bisect/kernel-smoke-job.yaml", in: blocks).text
    #expect(job.contains("- name: JUPYTERHUB_API_TOKEN") && job.contains("name: bisect-smoke-token"))
    #expect(blocks.allSatisfy { $0.language != "python" }, "the test is the binary, not a program to copy")
    // The wrapper's run timeout leaves room for the command's own limits.
    let test = try Self.block("ci/bisect/kernel-test.sh", in: blocks).text
    let run = try #require(Self.fallback(of: "SMOKE_RUN_TIMEOUT", in: test).flatMap(parseDuration))
    let spawn = try #require(command.firstIndex(of: "--spawn-timeout").flatMap { parseDuration(command[$0 + 1]) })
    let kernel = try #require(command.firstIndex(of: "--kernel-timeout").flatMap { parseDuration(command[$0 + 1]) })
    #expect(run > spawn + kernel * 2 + .seconds(60))
  }

  @Test(
    "kernel-test.sh turns each outcome of the Job into the documented verdict and always deletes the Job",
    arguments: zip(
      ["exit:0", "exit:1", "exit:200", "exit:137", "unschedulable", "no-pod", "create-fails"],
      [0, 1, 200, 125, 125, 125, 125] as [Int32]))
  func wrapperVerdicts(outcome: String, expected: Int32) throws {
    let bench = try Bench()
    let output = try runProcess(
      "/bin/sh", [bench.script("kernel-test.sh")], in: bench.directory.url,
      environment: bench.environment(["FAKE_OUTCOME": outcome, "SMOKE_START_TIMEOUT": "0"]))
    #expect(output.status == expected, "\(outcome): \(output.stdout)\(output.stderr)")
    #expect(bench.calls.contains("kubectl delete job kernel-smoke-7-"), "\(outcome): the Job was not deleted")
    #expect(!output.stderr.contains("parameter not set"), "\(outcome): \(output.stderr)")
    if outcome.hasPrefix("exit:") {
      #expect(output.stdout.contains("fake log of the smoke test"), "\(outcome): the Job's log was not printed")
    }
    guard outcome != "create-fails" else { return }
    let manifest = try String(contentsOf: bench.createdJob, encoding: .utf8)
    #expect(manifest.contains("name: \"kernel-smoke-7-"))
    #expect(manifest.contains("bisect-deploy/commit: \"\(Self.commit)\""))
    #expect(!manifest.contains("@NAME@") && !manifest.contains("@COMMIT@"))
  }

  @Test("kernel-test.sh deletes its Job and exits 143 when bisect-deploy stops it with SIGTERM")
  func wrapperStopped() throws {
    let bench = try Bench()
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = [bench.script("kernel-test.sh")]
    process.environment = bench.environment(["FAKE_OUTCOME": "running"])
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    // Once it asks for the Job's pod, the Job exists and the wrapper is waiting for it.
    let deadline = Date().addingTimeInterval(30)
    while !bench.calls.contains("get pods"), Date() < deadline { usleep(50_000) }
    kill(process.processIdentifier, SIGTERM)
    process.waitUntilExit()
    #expect(process.terminationReason == .exit)
    #expect(process.terminationStatus == 143)
    #expect(bench.calls.contains("kubectl delete job kernel-smoke-7-"))
  }

  @Test("deploy.sh rolls a pending release back, then upgrades with --atomic, the label and the token file")
  func deployScript() throws {
    let bench = try Bench()
    let pending = try runProcess(
      "/bin/sh", [bench.script("deploy.sh")], in: bench.checkout,
      environment: bench.environment(["FAKE_PENDING": "yes", "PRIVATE": "yes"]))
    #expect(pending.status == 0, "\(pending.stdout)\(pending.stderr)")
    let calls = lines(bench.calls)
    let rollback = calls.firstIndex { $0.hasPrefix("helm rollback jupyterhub --namespace bisect-2") }
    let upgrade = try #require(calls.firstIndex { $0.hasPrefix("helm upgrade --install jupyterhub ") })
    #expect(rollback.map { $0 < upgrade } == true, "the pending release is rolled back before the upgrade")
    let command = calls[upgrade]
    for part in [
      "\(bench.checkout.path)/chart", "--values config/dev.yaml", "/ci/bisect/values-smoke.yaml",
      "/ci/bisect/values-bisect.yaml", "--namespace bisect-2", "--labels commit=\(Self.commit)", "--atomic", "--wait",
      "--timeout 6m", "--set-file hub.services.bisect-smoke.apiToken=",
    ] {
      #expect(command.contains(part), "the upgrade lacks \(part): \(command)")
    }
    #expect(!command.contains("s3cret-token"), "the token is never on a command line")
    #expect(calls.contains { $0.hasSuffix(" holds s3cret-token") }, "Helm reads the token from its file")
    for tokenFile in calls.compactMap(Self.tokenFile) {
      #expect(!FileManager.default.fileExists(atPath: tokenFile), "the token file \(tokenFile) was left behind")
    }

    try FileManager.default.removeItem(atPath: bench.callsFile.path)
    let failing = try runProcess(
      "/bin/sh", [bench.script("deploy.sh")], in: bench.checkout,
      environment: bench.environment(["FAKE_HELM_EXIT": "1"]))
    #expect(failing.status != 0, "a failing Helm fails the deploy")
    let failedCalls = lines(bench.calls)
    #expect(!failedCalls.contains { $0.hasPrefix("helm rollback") })
    #expect(failedCalls.contains { $0.hasPrefix("helm upgrade") && !$0.contains("values-bisect.yaml") })
    let tokenFiles = failedCalls.compactMap(Self.tokenFile)
    #expect(tokenFiles.count == 1)
    for tokenFile in tokenFiles {
      #expect(!FileManager.default.fileExists(atPath: tokenFile), "the token file \(tokenFile) was left behind")
    }
  }

  static func tokenFile(_ line: String) -> String? {
    guard line.hasPrefix("token file "), let end = line.range(of: " holds ") else { return nil }
    return String(line[line.index(line.startIndex, offsetBy: 11)..<end.lowerBound])
  }

  /// A folder laid out like the infrastructure repository (`ci/bisect/` taken from the page),
  /// a candidate checkout with a chart, and stand-ins for kubectl and helm that record every
  /// call.
  struct Bench {
    let directory: TemporaryDirectory
    var repository: URL { directory.url.appendingPathComponent("infra") }
    var checkout: URL { directory.url.appendingPathComponent("checkout") }
    var tools: URL { directory.url.appendingPathComponent("bin") }
    var callsFile: URL { directory.url.appendingPathComponent("calls") }
    var createdJob: URL { directory.url.appendingPathComponent("calls.job") }
    var calls: String { (try? String(contentsOf: callsFile, encoding: .utf8)) ?? "" }

    init() throws {
      directory = try TemporaryDirectory("kubernetes-doc")
      let files = FileManager.default
      for block in try KubernetesDocTests.blocks() {
        guard let name = block.fileName, name.hasPrefix("ci/bisect/") else { continue }
        let file = repository.appendingPathComponent(name)
        try files.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try block.text.write(to: file, atomically: true, encoding: .utf8)
      }
      try files.createDirectory(at: checkout.appendingPathComponent("chart"), withIntermediateDirectories: true)
      try "apiVersion: v2\nname: hub\nversion: 0.1.0\n".write(
        to: checkout.appendingPathComponent("chart/Chart.yaml"), atomically: true, encoding: .utf8)
      try files.createDirectory(at: tools, withIntermediateDirectories: true)
      for (name, text) in [("kubectl", Self.kubectl), ("helm", Self.helm)] {
        let file = tools.appendingPathComponent(name)
        try text.write(to: file, atomically: true, encoding: .utf8)
        try files.setAttributes([.posixPermissions: 0o755], ofItemAtPath: file.path)
      }
    }

    func script(_ name: String) -> String {
      repository.appendingPathComponent("ci/bisect/\(name)").path
    }

    /// What bisect-deploy would give a step in bisect-2, plus `extra`.
    func environment(_ extra: [String: String]) -> [String: String] {
      var environment = ProcessInfo.processInfo.environment
      environment["PATH"] = tools.path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
      environment["FAKE_CALLS"] = callsFile.path
      environment["BISECT_COMMIT"] = KubernetesDocTests.commit
      environment["BISECT_SHORT"] = String(KubernetesDocTests.commit.prefix(7))
      environment["BISECT_CHECKOUT"] = checkout.path
      environment["BISECT_REPO"] = repository.path
      environment["BISECT_ENVIRONMENT"] = "bisect-2"
      environment["BISECT_STEP"] = "7"
      environment["BISECT_PHASE"] = "bisect"
      environment["NAMESPACE"] = "bisect-2"
      environment["RELEASE"] = "jupyterhub"
      environment["VALUES"] = "config/dev.yaml"
      environment["PRIVATE"] = nil
      for (key, value) in extra { environment[key] = value }
      return environment
    }

    /// Answers as a cluster would for $FAKE_OUTCOME: `exit:N` (the container exited N),
    /// `running`, `unschedulable`, `no-pod` or `create-fails`.
    static let kubectl = """
      #!/bin/sh
      echo "kubectl $*" >> "$FAKE_CALLS"
      outcome=$FAKE_OUTCOME
      case "$1 $2" in
        "get secret") printf '%s' s3cret-token; exit 0 ;;
        "create --namespace")
          cat > "$FAKE_CALLS.job"
          if [ "$outcome" = create-fails ]; then echo "jobs.batch is forbidden" >&2; exit 1; fi
          echo "job.batch/created"; exit 0 ;;
        "delete job") exit 0 ;;
        "describe job" | "describe pod") echo "Events: none"; exit 0 ;;
        "logs "*) echo "fake log of the smoke test"; exit 0 ;;
      esac
      case $outcome in exit:*) code=${outcome#exit:} ;; *) code= ;; esac
      case "$*" in
        *"get job"*) case $code in '') ;; 0) echo Complete ;; *) echo Failed ;; esac ;;
        *"get pods"*)
          if [ "$outcome" = no-pod ]; then echo "array index out of bounds" >&2; exit 1; fi
          echo kernel-smoke-pod ;;
        *"{.status.phase}"*)
          if [ "$outcome" = running ]; then echo Running; exit 0; fi
          case $code in '') echo Pending ;; 0) echo Succeeded ;; *) echo Failed ;; esac ;;
        *"terminated.exitCode"*) printf '%s' "$code" ;;
        *"terminated.reason"*) if [ "$code" = 137 ]; then echo OOMKilled; else echo Error; fi ;;
        *"waiting.reason"*) echo "Unschedulable 0/3 nodes are available: 3 Insufficient cpu." ;;
        *) echo "unexpected: kubectl $*" >&2; exit 99 ;;
      esac
      """

    /// Lists the release as pending when $FAKE_PENDING is yes; records what file the token
    /// came from and what it held; an upgrade exits $FAKE_HELM_EXIT.
    static let helm = """
      #!/bin/sh
      echo "helm $*" >> "$FAKE_CALLS"
      case $1 in
        list) if [ "${FAKE_PENDING:-}" = yes ]; then echo "$RELEASE"; fi ;;
        upgrade)
          previous=
          for argument in "$@"; do
            if [ "$previous" = --set-file ]; then
              file=${argument#*=}
              echo "token file $file holds $(cat "$file")" >> "$FAKE_CALLS"
            fi
            previous=$argument
          done
          exit "${FAKE_HELM_EXIT:-0}" ;;
      esac
      exit 0
      """
  }
}
