import Foundation
import History
import HuntStore
import Notify
import Runner
import Yams

/// Where the environment goes back to when a hunt ends.
public enum RestoreTarget: Sendable, Hashable, CustomStringConvertible {
  /// The last commit known good (the default, as the postmortem asks).
  case lastGood
  /// What was deployed before the hunt, as printed by `restore.original_command`.
  case original
  /// A revision the user names.
  case revision(String)
  /// Leave the environment as the last step left it.
  case none

  /// Parses the words users write: `good`, `original`, `none`, or a revision.
  public init(parsing text: String) {
    switch text {
    case "good", "last-good": self = .lastGood
    case "original": self = .original
    case "none": self = .none
    default: self = .revision(text)
    }
  }

  public var description: String {
    switch self {
    case .lastGood: "good"
    case .original: "original"
    case .revision(let revision): revision
    case .none: "none"
    }
  }
}

/// What an infrastructure failure (a deploy that fails or times out) does to a step.
public enum InfrastructureFailurePolicy: String, Sendable, Hashable {
  /// Skip the commit: the engine picks another.
  case skip
  /// Stop the hunt.
  case abort
}

/// How the runs of one step's test (`repeat: N`) make its verdict.
public enum RepeatRule: String, Sendable, Hashable {
  /// The verdict most runs gave; a tie (or only skipped runs) is a skip.
  case majority
  /// Bad when any run said bad: for tests that fail rarely on the culprit.
  case anyBad = "any-bad"
}

/// The probabilistic mode for flaky tests (`flaky:` or `--flaky`): see docs/flaky.md.
public struct FlakyMode: Sendable, Hashable {
  /// How often a good commit's test fails; nil: estimated from the verdicts.
  public var falseBad: Double?
  /// How often a bad commit's test passes (below 0.8: a regression fails at least one run in
  /// five); nil: estimated from the verdicts.
  public var falseGood: Double?
  /// Stop when one candidate is the culprit (or "no regression" holds) with at least this
  /// probability.
  public var confidence = 0.99
  /// The most test runs to spend; nil for the engine's default.
  public var budget: Int?
  /// What a deploy and a test run cost, weighing "test again here" against "deploy another
  /// commit"; nil: the hunt's own measured means (docs/flaky.md).
  public var deployCost: Duration?
  public var testCost: Duration?

  /// The most `falseGood` may be: a regression that fails fewer than one run in five is not
  /// told from noise.
  public static let falseGoodLimit = 0.8

  public init(
    falseBad: Double? = nil, falseGood: Double? = nil, confidence: Double = 0.99, budget: Int? = nil,
    deployCost: Duration? = nil, testCost: Duration? = nil
  ) {
    self.falseBad = falseBad
    self.falseGood = falseGood
    self.confidence = confidence
    self.budget = budget
    self.deployCost = deployCost
    self.testCost = testCost
  }
}

/// A named place to deploy to, with its own variables.
public struct DeployEnvironment: Sendable, Hashable {
  public var name: String
  /// Extra environment variables for every command run for this environment.
  public var variables: [String: String]
  /// A protected environment (prod) is refused unless `--allow-protected NAME` names it.
  public var isProtected: Bool

  public init(name: String, variables: [String: String] = [:], isProtected: Bool = false) {
    self.name = name
    self.variables = variables
    self.isProtected = isProtected
  }
}

/// Everything a hunt needs to know besides the range: read from `bisect-deploy.yml`, then
/// overridden by flags. See docs/configuration.md for every key.
public struct Configuration: Sendable, Hashable {
  public var deployCommand: String?
  public var testCommand: String?
  public var restoreTarget: RestoreTarget = .lastGood
  /// Prints the revision deployed before the hunt (for `restore: original`).
  public var originalCommand: String?
  /// The environments a hunt deploys to (`environment:` or `--env`, one name or several):
  /// with several, each round tests one candidate per environment at the same time.
  public var environmentNames: [String] = []
  public var environments: [String: DeployEnvironment] = [:]
  public var deployTimeout: Duration? = .seconds(1800)
  public var testTimeout: Duration? = .seconds(600)
  public var restoreTimeout: Duration? = .seconds(1800)
  /// Whether the user set the deploy timeout (file or flag): a restore with no timeout of its
  /// own then uses it, so that a stopped hunt does not wait half an hour on a hung restore.
  public var deployTimeoutGiven = false
  public var restoreTimeoutGiven = false
  /// The restore's timeout: its own when given, else the deploy's when the user gave that,
  /// else the default.
  public var effectiveRestoreTimeout: Duration? {
    if !restoreTimeoutGiven && deployTimeoutGiven { return deployTimeout }
    return restoreTimeout
  }
  public var gracePeriod: Duration = .seconds(10)
  public var deployRetries = 1
  public var deployFailure: InfrastructureFailurePolicy = .skip
  /// What a test that runs out of time means (default: bad).
  public var testTimeoutPolicy: TimeoutPolicy = .bad
  public var verifyEndpoints = true
  public var firstParent = false
  public var paths: [String] = []
  /// Where checkouts are made; default: inside the repository's git directory.
  public var workspace: String?
  /// Where step logs go; default: inside the repository's git directory.
  public var logDirectory: String?
  /// The most bytes one command's log keeps (`log_limit`); nil for no limit.
  public var logLimit: Int? = defaultLogLimit
  public var maxDuration: Duration?
  /// Take verdicts from earlier hunts with the same deploy, test and environment instead of
  /// testing those commits again (on by default for nightly hunts, off otherwise).
  public var reuseVerdicts = false
  /// Runs of the test per step (`repeat: N`), combined by `repeatRule`.
  public var testRuns = 1
  public var repeatRule: RepeatRule = .majority
  /// After a culprit is found, test it and its parents this many more times each.
  public var confirmRuns = 0
  /// Probabilistic bisection for flaky tests; nil for plain bisection.
  public var flaky: FlakyMode?
  /// Hunt along the first-parent line for the merge first, then inside that merge.
  public var descend = false
  /// Where the state lives (`state:`): a file path or a `postgres://` URL; nil for the
  /// default file in the repository's git directory. `--state` and `BISECT_DEPLOY_STATE` win.
  public var state: String?
  /// Environments hunts share (`env_pool:`, `--env-pool`): a hunt takes `parallel` free ones
  /// and waits, first come first served, when none is free.
  public var environmentPool: [String] = []
  /// How many environments of the pool a hunt takes (`parallel:`, `--parallel`).
  public var parallel = 1
  /// How long to wait for a free environment (`wait_for_env:`, `--wait-for-env`); nil for the
  /// default: an hour with a pool, no waiting for named environments.
  public var waitForEnvironment: Duration?
  /// How long a lease lasts after each renewal (`lease.duration`).
  public var leaseDuration: Duration = .seconds(30)
  /// How often the running hunt renews its leases (`lease.renew`).
  public var leaseRenewal: Duration = .seconds(10)
  /// Projects the repository pins by revision (`dependencies:`), in the order written.
  public var dependencies: [PinnedDependency] = []
  /// When the culprit bumps a pin, hunt on inside that dependency (`descend_dependencies`,
  /// `--descend-deps`): docs/dependencies.md.
  public var descendDependencies = false
  /// May the tool clone and fetch a dependency's `url:` (`allow_network`, `--allow-network`)?
  public var allowNetwork = false
  /// After a culprit is found, deploy and test bad with the culprit reverted on top.
  public var confirmRevert = false
  /// Where to tell people how the hunt ended (`notify:`).
  public var notify: [NotifyDestination] = []

  public init() {}

  /// The wait for a free environment in force.
  public var effectiveWaitForEnvironment: Duration {
    waitForEnvironment ?? (environmentPool.isEmpty ? .zero : .seconds(3600))
  }

  /// How long before its lease ends a hunt that could not renew it stops its steps: the
  /// grace period they get to end, and a second more, so that they have ended before anyone
  /// else may take the environment.
  public var leaseSafetyMargin: Duration { gracePeriod + .seconds(1) }

  /// A short hash of what decides a verdict: the deploy and test commands and the
  /// environment's name and variables. Verdicts are reused only between equal fingerprints.
  public func fingerprint(for environment: DeployEnvironment) -> String {
    fingerprint(for: [environment])
  }

  /// The fingerprint of a hunt over several environments together: verdicts found on any of
  /// them stand for all of them (that is what running one hunt on several assumes).
  public func fingerprint(for environments: [DeployEnvironment]) -> String {
    var text = "deploy=\(deployCommand ?? "")\u{0}test=\(testCommand ?? "")"
    // Single runs of a test known to be flaky are not verdicts a plain hunt should trust.
    if flaky != nil { text += "\u{0}mode=flaky" }
    for environment in environments {
      text += "\u{0}env=\(environment.name)"
      for (key, value) in environment.variables.sorted(by: { $0.key < $1.key }) { text += "\u{0}\(key)=\(value)" }
    }
    // FNV-1a, 64 bits: stable across runs and machines (Swift's Hasher is seeded per process).
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
      hash ^= UInt64(byte)
      hash &*= 0x100_0000_01b3
    }
    return String(hash, radix: 16)
  }

  /// Where clean checkouts for `environment` are made: `workspace`, by default inside the
  /// repository's git directory.
  public func workspaceFolder(gitDirectory: String, environment: DeployEnvironment) -> URL {
    URL(fileURLWithPath: workspace ?? Self.stateFolder(gitDirectory).appendingPathComponent("work").path)
      .appendingPathComponent(environment.name)
  }

  /// Where step logs go: `logs`, by default inside the repository's git directory.
  public func logFolder(gitDirectory: String) -> URL {
    URL(fileURLWithPath: logDirectory ?? Self.stateFolder(gitDirectory).appendingPathComponent("logs").path)
  }

  static func stateFolder(_ gitDirectory: String) -> URL {
    URL(fileURLWithPath: gitDirectory).appendingPathComponent("bisect-deploy")
  }

  /// Creates the tool's folder inside the git directory for its owner only (mode 0700): it
  /// holds the state (with command lines, which may hold secrets), logs and checkouts. An
  /// existing folder of the user's only loses its group and other bits (never gains any);
  /// one owned by someone else is left as it is.
  static func prepareStateFolder(gitDirectory: String) throws(HuntError) {
    let folder = stateFolder(gitDirectory)
    let files = FileManager.default
    var isDirectory: ObjCBool = false
    if files.fileExists(atPath: folder.path, isDirectory: &isDirectory) {
      guard isDirectory.boolValue else {
        throw .workspace(path: folder.path, reason: "it is a file; bisect-deploy keeps its state in a folder there")
      }
      var info = stat()
      if stat(folder.path, &info) == 0, info.st_uid == getuid(), info.st_mode & 0o077 != 0 {
        _ = chmod(folder.path, info.st_mode & 0o700)
      }
      return
    }
    do {
      try files.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    } catch {
      throw .workspace(path: folder.path, reason: error.localizedDescription)
    }
  }

  /// The configuration in force: the file `explicit` names, else `bisect-deploy.yml` at the
  /// work tree's root when there is one, else the defaults.
  public static func discover(explicit: String?, workTree: String?) throws(ConfigurationError) -> Configuration {
    if let explicit { return try load(path: explicit) }
    guard let workTree else { return Configuration() }
    let path = URL(fileURLWithPath: workTree).appendingPathComponent("bisect-deploy.yml").path
    return FileManager.default.fileExists(atPath: path) ? try load(path: path) : Configuration()
  }

  /// Settings a hunt cannot combine, refused alike by the hunt and by `plan`.
  public var conflict: ConfigurationError? {
    if descend && flaky != nil {
      return .conflict(
        "descend and flaky cannot be combined: the probabilistic mode searches the range in one stage (use --first-parent with --flaky to search the merges)."
      )
    }
    if !environmentPool.isEmpty && !environmentNames.isEmpty {
      return .conflict(
        "environment and env_pool cannot be combined: a hunt deploys either to the environments named or to free ones of a pool."
      )
    }
    // Linux passes one argument of at most 128 KiB to a program (MAX_ARG_STRLEN): a longer
    // command could not start, and would be found out only at the first deploy or test.
    for (name, command) in [
      ("deploy", deployCommand), ("test", testCommand), ("restore.original_command", originalCommand),
    ] {
      guard let command, command.utf8.count > Self.longestCommand else { continue }
      return .conflict(
        "the \(name) command is \(command.utf8.count) bytes long: a command may hold at most \(Self.longestCommand) bytes. Put a long script in a file and run that file."
      )
    }
    return nil
  }

  /// The longest deploy, test or original command: MAX_ARG_STRLEN less room for the shell.
  static let longestCommand = 128 * 1024 - 1024

  /// The environment a hunt deploys to: the first named one, else `dev` when defined, else a
  /// plain environment called `default`.
  public func environment() throws(ConfigurationError) -> DeployEnvironment {
    try environmentsInUse()[0]
  }

  /// The environments a hunt deploys to, in the order named (never empty): the named ones,
  /// else `dev` when defined, else the only one defined, else a plain one called `default`.
  public func environmentsInUse() throws(ConfigurationError) -> [DeployEnvironment] {
    // Names become folder names (workspaces are emptied before each checkout).
    for name in environmentNames + environmentPool + environments.keys.sorted()
    where !Self.isValidEnvironmentName(name) {
      throw .invalidEnvironmentName(name)
    }
    let named = environmentPool.isEmpty ? environmentNames : environmentPool
    if !named.isEmpty {
      var chosen = [DeployEnvironment]()
      for name in named where !chosen.contains(where: { $0.name == name }) {
        if let environment = environments[name] {
          chosen.append(environment)
        } else if environments.isEmpty {
          chosen.append(DeployEnvironment(name: name))
        } else {
          throw .unknownEnvironment(name, known: environments.keys.sorted())
        }
      }
      return chosen
    }
    return [try defaultEnvironment()]
  }

  /// Letters, digits, `.`, `_` and `-`, not `.` or `..`: safe as a folder name.
  static func isValidEnvironmentName(_ name: String) -> Bool {
    !name.isEmpty && name != "." && name != ".."
      && name.unicodeScalars.allSatisfy {
        $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0))
      }
  }

  private func defaultEnvironment() throws(ConfigurationError) -> DeployEnvironment {
    if let dev = environments["dev"] { return dev }
    if environments.count == 1, let only = environments.values.first { return only }
    if environments.isEmpty { return DeployEnvironment(name: "default") }
    throw .noEnvironmentChosen(known: environments.keys.sorted())
  }
}

/// A configuration problem, naming the file, line and key where there is one.
public enum ConfigurationError: Error, Equatable, Sendable, LocalizedError {
  case unreadable(path: String, reason: String)
  case syntax(path: String, line: Int?, problem: String)
  /// Valid YAML the tool refuses to expand: an alias or a collection as a key, or aliases that
  /// expand past `YAMLShape.nodeLimit` values.
  case refused(path: String, line: Int, problem: String)
  case invalid(path: String, line: Int?, key: String, problem: String)
  case missingTest
  case unknownEnvironment(String, known: [String])
  case noEnvironmentChosen(known: [String])
  case protectedEnvironment(String)
  /// Two settings that cannot work together.
  case conflict(String)
  /// An environment name that cannot be a folder name.
  case invalidEnvironmentName(String)

  public var errorDescription: String? {
    switch self {
    case .unreadable(let path, let reason):
      "Cannot read the configuration file '\(path)': \(reason)."
    case .syntax(let path, let line, let problem):
      // The parser quotes the file's bytes (NUL, ESC): shown as text.
      "\(path)\(line.map { ":\($0)" } ?? ""): not valid YAML: \(problem.terminalSafe())."
    case .refused(let path, let line, let problem):
      "\(path):\(line): refused: \(problem.terminalSafe())."
    case .invalid(let path, let line, let key, let problem):
      "\(path)\(line.map { ":\($0)" } ?? ""): key '\(key.terminalSafe())': \(problem.terminalSafe())\(problem.hasSuffix("?") ? "" : ".")"
    case .missingTest:
      "No smoke test: give --test CMD or a 'test' key in bisect-deploy.yml."
    case .unknownEnvironment(let name, let known):
      "Unknown environment '\(name.terminalSafe())'. Defined: \(known.joined(separator: ", ").terminalSafe())."
    case .noEnvironmentChosen(let known):
      "Several environments are defined (\(known.joined(separator: ", ").terminalSafe())): choose one or more with --env NAME (repeatable) or an 'environment' key."
    case .conflict(let problem):
      problem
    case .invalidEnvironmentName(let name):
      "Environment name '\(name.terminalSafe())' is not allowed: use letters, digits, '.', '_' and '-' (not '.' or '..')."
    case .protectedEnvironment(let name):
      "Environment '\(name)' is protected: bisect-deploy will not deploy there unless you pass --allow-protected \(name)."
    }
  }
}

extension Configuration {
  /// Reads `path` (YAML) on top of the defaults.
  public static func load(path: String) throws(ConfigurationError) -> Configuration {
    try parse(try readText(path), path: path)
  }

  /// The file's text, or an error that says what `path` is instead of a readable UTF-8 file:
  /// missing, a folder, a device (`/dev/null`), a pipe, unreadable by this user, not UTF-8.
  /// (Foundation's own message for a device is "You don't have permission", which is not so.)
  static func readText(_ path: String) throws(ConfigurationError) -> String {
    var info = stat()
    guard stat(path, &info) == 0 else {
      let reason =
        switch errno {
        case ENOENT: "there is no such file"
        case ENOTDIR: "a part of the path is not a folder"
        case EACCES: "permission denied on a folder of the path"
        default: String(cString: strerror(errno))
        }
      throw .unreadable(path: path, reason: reason)
    }
    let kind: String? =
      switch info.st_mode & S_IFMT {
      case S_IFREG: nil
      case S_IFDIR: "it is a folder, not a file"
      case S_IFCHR: "it is a character device, not a regular file"
      case S_IFBLK: "it is a block device, not a regular file"
      case S_IFIFO: "it is a named pipe, not a regular file"
      case S_IFSOCK: "it is a socket, not a regular file"
      default: "it is not a regular file"
      }
    if let kind { throw .unreadable(path: path, reason: kind) }
    guard let data = FileManager.default.contents(atPath: path) else {
      throw .unreadable(
        path: path,
        reason: access(path, R_OK) == 0 ? "it could not be read" : "permission denied: this user may not read it")
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw .unreadable(path: path, reason: "it is not UTF-8 text")
    }
    return text
  }

  /// Parses YAML text; `path` only names the file in messages.
  public static func parse(_ text: String, path: String) throws(ConfigurationError) -> Configuration {
    if let problem = YAMLShape.check(text) {
      throw .refused(path: path, line: problem.line, problem: problem.text)
    }
    let root: Node?
    do {
      root = try Yams.compose(yaml: text)
    } catch let error as YamlError {
      throw .syntax(path: path, line: Self.line(of: error), problem: Self.problem(of: error))
    } catch {
      throw .syntax(path: path, line: nil, problem: "\(error)")
    }
    var configuration = Configuration()
    guard let root else { return configuration }
    let reader = NodeReader(path: path)
    let top = try reader.mapping(root, key: "(top level)")
    for (key, value) in top {
      switch key.name {
      case "deploy": configuration.deployCommand = try reader.command(value, key: key)
      case "test": configuration.testCommand = try reader.command(value, key: key)
      case "environment": configuration.environmentNames = try reader.strings(value, key: key)
      case "first_parent": configuration.firstParent = try reader.bool(value, key: key)
      case "verify_endpoints": configuration.verifyEndpoints = try reader.bool(value, key: key)
      case "paths": configuration.paths = try reader.strings(value, key: key)
      case "workspace": configuration.workspace = try reader.string(value, key: key)
      case "logs": configuration.logDirectory = try reader.string(value, key: key)
      case "log_limit": configuration.logLimit = try reader.size(value, key: key)
      case "max_duration": configuration.maxDuration = try reader.duration(value, key: key)
      case "reuse_verdicts": configuration.reuseVerdicts = try reader.bool(value, key: key)
      case "repeat": configuration.testRuns = try reader.integer(value, key: key, minimum: 1)
      case "repeat_rule": configuration.repeatRule = try reader.choice(value, key: key)
      case "confirm": configuration.confirmRuns = try reader.integer(value, key: key, minimum: 0)
      case "descend": configuration.descend = try reader.bool(value, key: key)
      case "state":
        let text = try reader.string(value, key: key)
        do {
          _ = try StateLocation(parsing: text)
        } catch {
          throw .invalid(path: path, line: key.line, key: key.name, problem: error.errorDescription ?? "\(error)")
        }
        configuration.state = text
      case "env_pool":
        configuration.environmentPool = try reader.strings(value, key: key).flatMap {
          $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }.filter { !$0.isEmpty }
      case "parallel": configuration.parallel = try reader.integer(value, key: key, minimum: 1)
      case "wait_for_env": configuration.waitForEnvironment = try reader.duration(value, key: key, positive: false)
      case "lease":
        for (inner, innerValue) in try reader.mapping(value, key: key.name) {
          switch inner.name {
          case "duration":
            configuration.leaseDuration = try reader.duration(innerValue, key: inner) ?? configuration.leaseDuration
          case "renew":
            configuration.leaseRenewal = try reader.duration(innerValue, key: inner) ?? configuration.leaseRenewal
          default: throw reader.unknown(inner, known: ["duration", "renew"])
          }
        }
      case "descend_dependencies": configuration.descendDependencies = try reader.bool(value, key: key)
      case "allow_network": configuration.allowNetwork = try reader.bool(value, key: key)
      case "dependencies":
        configuration.dependencies = try reader.dependencies(
          value, key: key, folder: URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent())
      case "confirm_revert": configuration.confirmRevert = try reader.bool(value, key: key)
      case "notify": configuration.notify = try reader.destinations(value, key: key)
      case "flaky":
        if case .scalar = value {
          configuration.flaky = try reader.bool(value, key: key) ? FlakyMode() : nil
          continue
        }
        var mode = FlakyMode()
        for (inner, innerValue) in try reader.mapping(value, key: key.name) {
          switch inner.name {
          case "false_bad": mode.falseBad = try reader.rate(innerValue, key: inner, below: 0.5)
          case "false_good":
            mode.falseGood = try reader.rate(innerValue, key: inner, below: FlakyMode.falseGoodLimit)
          case "confidence": mode.confidence = try reader.rate(innerValue, key: inner, below: 1, above: 0.5)
          case "budget": mode.budget = try reader.integer(innerValue, key: inner, minimum: 1)
          case "deploy_cost": mode.deployCost = try reader.duration(innerValue, key: inner, positive: false)
          case "test_cost": mode.testCost = try reader.duration(innerValue, key: inner)
          default:
            throw reader.unknown(
              inner, known: ["false_bad", "false_good", "confidence", "budget", "deploy_cost", "test_cost"])
          }
        }
        configuration.flaky = mode
      case "test_timeout_means":
        configuration.testTimeoutPolicy = try reader.choice(value, key: key)
      case "restore":
        if case .scalar = value {
          configuration.restoreTarget = RestoreTarget(parsing: try reader.string(value, key: key))
          continue
        }
        for (inner, innerValue) in try reader.mapping(value, key: key.name) {
          switch inner.name {
          case "to": configuration.restoreTarget = RestoreTarget(parsing: try reader.string(innerValue, key: inner))
          case "original_command": configuration.originalCommand = try reader.string(innerValue, key: inner)
          default: throw reader.unknown(inner, known: ["to", "original_command"])
          }
        }
      case "timeouts":
        for (inner, innerValue) in try reader.mapping(value, key: key.name) {
          switch inner.name {
          case "deploy":
            configuration.deployTimeout = try reader.duration(innerValue, key: inner)
            // `none` gives the restore no limit of its own: it keeps its default.
            configuration.deployTimeoutGiven = configuration.deployTimeout != nil
          case "test": configuration.testTimeout = try reader.duration(innerValue, key: inner)
          case "restore":
            configuration.restoreTimeout = try reader.duration(innerValue, key: inner)
            configuration.restoreTimeoutGiven = true
          case "grace":
            configuration.gracePeriod = try reader.duration(innerValue, key: inner, positive: false) ?? .zero
          default: throw reader.unknown(inner, known: ["deploy", "test", "restore", "grace"])
          }
        }
      case "deploy_failure":
        for (inner, innerValue) in try reader.mapping(value, key: key.name) {
          switch inner.name {
          case "retries": configuration.deployRetries = try reader.integer(innerValue, key: inner, minimum: 0)
          case "then": configuration.deployFailure = try reader.choice(innerValue, key: inner)
          default: throw reader.unknown(inner, known: ["retries", "then"])
          }
        }
      case "environments":
        for (name, body) in try reader.mapping(value, key: key.name) {
          var environment = DeployEnvironment(name: name.name)
          if case .scalar(let scalar) = body, scalar.string.isEmpty || scalar.string == "~" {
            configuration.environments[name.name] = environment
            continue
          }
          for (inner, innerValue) in try reader.mapping(body, key: "environments.\(name.name)") {
            switch inner.name {
            case "protected": environment.isProtected = try reader.bool(innerValue, key: inner)
            case "variables":
              for (variable, variableValue) in try reader.mapping(innerValue, key: inner.name) {
                environment.variables[variable.name] = try reader.string(variableValue, key: variable)
              }
            default: throw reader.unknown(inner, known: ["protected", "variables"])
            }
          }
          configuration.environments[name.name] = environment
        }
      default:
        throw reader.unknown(
          key,
          known: [
            "deploy", "test", "restore", "environment", "environments", "timeouts", "deploy_failure",
            "test_timeout_means", "verify_endpoints", "first_parent", "paths", "workspace", "logs", "log_limit",
            "max_duration",
            "reuse_verdicts", "repeat", "repeat_rule", "confirm", "flaky", "descend", "state", "env_pool", "parallel",
            "wait_for_env", "lease", "dependencies", "descend_dependencies", "allow_network", "confirm_revert",
            "notify",
          ])
      }
    }
    return configuration
  }

  private static func line(of error: YamlError) -> Int? {
    switch error {
    case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): mark.line
    default: nil
    }
  }

  private static func problem(of error: YamlError) -> String {
    switch error {
    case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _): problem
    case .duplicatedKeysInMapping(let duplicates, _): "duplicated key(s) \(duplicates.joined(separator: ", "))"
    default: "\(error)"
    }
  }
}

/// A key of a YAML mapping with where it was written.
struct KeyName {
  var name: String
  var line: Int?
}

/// Reads typed values out of YAML nodes, each error naming the file, line and key.
struct NodeReader {
  let path: String

  func mapping(_ node: Node, key: String) throws(ConfigurationError) -> [(KeyName, Node)] {
    guard case .mapping(let mapping) = node else {
      throw .invalid(path: path, line: node.mark?.line, key: key, problem: "expected a mapping of keys to values")
    }
    var pairs = [(KeyName, Node)]()
    for (keyNode, value) in mapping {
      guard case .scalar(let scalar) = keyNode else {
        throw .invalid(path: path, line: keyNode.mark?.line, key: key, problem: "keys must be plain words")
      }
      pairs.append((KeyName(name: scalar.string, line: keyNode.mark?.line), value))
    }
    return pairs
  }

  func string(_ node: Node, key: KeyName) throws(ConfigurationError) -> String {
    guard case .scalar(let scalar) = node else {
      throw .invalid(path: path, line: key.line, key: key.name, problem: "expected text")
    }
    return scalar.string
  }

  func strings(_ node: Node, key: KeyName) throws(ConfigurationError) -> [String] {
    if case .scalar(let scalar) = node { return [scalar.string] }
    guard case .sequence(let sequence) = node else {
      throw .invalid(path: path, line: key.line, key: key.name, problem: "expected a list")
    }
    var values = [String]()
    for item in sequence { values.append(try string(item, key: key)) }
    return values
  }

  func bool(_ node: Node, key: KeyName) throws(ConfigurationError) -> Bool {
    switch try string(node, key: key).lowercased() {
    case "true", "yes", "on": return true
    case "false", "no", "off": return false
    case let other:
      throw .invalid(path: path, line: key.line, key: key.name, problem: "expected true or false, found '\(other)'")
    }
  }

  func integer(_ node: Node, key: KeyName, minimum: Int) throws(ConfigurationError) -> Int {
    let text = try string(node, key: key)
    guard let value = Int(text), value >= minimum else {
      throw .invalid(
        path: path, line: key.line, key: key.name, problem: "expected a whole number ≥ \(minimum), found '\(text)'")
    }
    return value
  }

  /// A probability written as a number (`0.1`) or a percentage (`10%`), at least `above` and
  /// below `below`.
  func rate(_ node: Node, key: KeyName, below: Double, above: Double = 0) throws(ConfigurationError) -> Double {
    let text = try string(node, key: key)
    guard let value = parseRate(text), value >= above, value < below else {
      throw .invalid(
        path: path, line: key.line, key: key.name,
        problem:
          "expected a probability from \(above) up to (not including) \(below), such as 0.05 or 5%, found '\(text)'")
    }
    return value
  }

  /// Seconds as a number (`90`, `1.5`), or with a unit (`90s`, `10m`, `1h`); `none` for no
  /// limit. `positive`: 0 is refused (a timeout of 0 stops every command at once).
  func duration(_ node: Node, key: KeyName, positive: Bool = true) throws(ConfigurationError) -> Duration? {
    let text = try string(node, key: key)
    if text == "none" { return nil }
    if let duration = parseDuration(text), !positive || duration > .zero { return duration }
    throw .invalid(
      path: path, line: key.line, key: key.name,
      problem: "expected \(durationRule(positive: positive)) (or none), found '\(text)'")
  }

  /// A size in bytes (`4096`, `512KB`, `10MB`, `1GB`, powers of 1024) from 4 KB to 1 GB, or
  /// `none` for no limit. (Trimming copies up to a quarter of the limit in memory.)
  func size(_ node: Node, key: KeyName) throws(ConfigurationError) -> Int? {
    let text = try string(node, key: key)
    if text == "none" { return nil }
    if let bytes = parseSize(text), bytes >= 4096, bytes <= 1 << 30 { return bytes }
    throw .invalid(
      path: path, line: key.line, key: key.name,
      problem: "expected a size from 4KB to 1GB such as 10MB, 512KB or 1GB (or none), found '\(text)'")
  }

  /// A command: text that is not blank.
  func command(_ node: Node, key: KeyName) throws(ConfigurationError) -> String {
    let text = try string(node, key: key)
    guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
      throw .invalid(path: path, line: key.line, key: key.name, problem: "expected a shell command, found nothing")
    }
    return text
  }

  func choice<Choice: RawRepresentable>(_ node: Node, key: KeyName) throws(ConfigurationError) -> Choice
  where Choice.RawValue == String {
    let text = try string(node, key: key)
    guard let value = Choice(rawValue: text) else {
      throw .invalid(path: path, line: key.line, key: key.name, problem: "unknown value '\(text)'")
    }
    return value
  }

  /// An unknown key, with the nearest known one when it looks like a typo (as unknown
  /// commands are answered); else the few keys known at that level, or, at the top level's 31,
  /// where they are all described.
  func unknown(_ key: KeyName, known: [String]) -> ConfigurationError {
    let problem: String
    if let nearest = nearestWord(to: key.name, among: known) {
      problem = "unknown key; did you mean '\(nearest)'?"
    } else if known.count <= 6 {
      problem = "unknown key (known here: \(known.joined(separator: ", ")))"
    } else {
      problem = "unknown key (every key is described in docs/configuration.md)"
    }
    return .invalid(path: path, line: key.line, key: key.name, problem: problem)
  }
}

/// The longest duration accepted for a timeout or a hunt (366 days): anything longer is a
/// typo, and much larger numbers cannot be held by a clock at all (1e300 seconds).
public let longestDuration: Duration = .seconds(366 * 24 * 3600)

/// Parses `90`, `1.5`, `90s`, `10m`, `2h` into a duration from 0 to `longestDuration`; nil
/// for anything else.
public func parseDuration(_ text: String) -> Duration? {
  let trimmed = text.trimmingCharacters(in: .whitespaces)
  var number = Substring(trimmed)
  var scale = 1.0
  if let last = trimmed.last, "smh".contains(last) {
    number = trimmed.dropLast()
    scale = last == "s" ? 1 : last == "m" ? 60 : 3600
  }
  // Checked before converting: a Double beyond Int64's range traps when converted.
  guard let value = Double(number), value.isFinite, value >= 0, value * scale <= 366 * 24 * 3600 else { return nil }
  return .milliseconds(Int64((value * scale * 1000).rounded()))
}

/// What a duration must be, in words, for messages: `positive` for timeouts (a timeout of 0
/// would stop every command at once).
public func durationRule(positive: Bool) -> String {
  "a duration such as 90, 90s, 10m or 1h, \(positive ? "above 0" : "0 or more") and at most 366 days"
}

/// Parses `0.05` or `5%` into a probability; nil for anything else.
public func parseRate(_ text: String) -> Double? {
  let trimmed = text.trimmingCharacters(in: .whitespaces)
  if trimmed.hasSuffix("%") { return Double(trimmed.dropLast()).map { $0 / 100 }.flatMap { $0.isFinite ? $0 : nil } }
  return Double(trimmed).flatMap { $0.isFinite ? $0 : nil }
}

/// Parses `4096`, `512KB`, `10MB`, `1GB` (powers of 1024; `K`, `M`, `G`, `KiB`… too) into
/// bytes; nil for anything else or above 1 TB.
public func parseSize(_ text: String) -> Int? {
  let trimmed = text.trimmingCharacters(in: .whitespaces).uppercased()
  let units: [(String, Int)] = [
    ("KIB", 1 << 10), ("MIB", 1 << 20), ("GIB", 1 << 30), ("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30),
    ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("B", 1),
  ]
  var number = Substring(trimmed)
  var scale = 1
  if let unit = units.first(where: { trimmed.hasSuffix($0.0) }) {
    number = trimmed.dropLast(unit.0.count)
    scale = unit.1
  }
  guard let value = Double(number.trimmingCharacters(in: .whitespaces)), value.isFinite, value >= 0,
    value * Double(scale) <= Double(1 << 40)
  else { return nil }
  return Int((value * Double(scale)).rounded())
}
