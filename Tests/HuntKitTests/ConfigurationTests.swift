import HuntKit
import Runner
import Testing

@Suite struct ConfigurationTests {
  static let example = """
    deploy: ./deploy.py "$BISECT_ENVIRONMENT" data8 "$BISECT_COMMIT"
    test: ./tests/kernel-smoke-test.sh
    restore:
      to: original
      original_command: cat deployed.txt
    environment: dev
    environments:
      dev:
        variables:
          HUB_URL: https://dev.example.org
      prod:
        protected: true
    timeouts:
      deploy: 10m
      test: 90
      grace: 2.5s
    deploy_failure:
      retries: 2
      then: abort
    test_timeout_means: skip
    verify_endpoints: false
    first_parent: yes
    paths: [config/, hub]
    max_duration: 1h
    """

  @Test("every documented key is read")
  func readsEveryKey() throws {
    let configuration = try Configuration.parse(Self.example, path: "bisect-deploy.yml")
    #expect(configuration.deployCommand == "./deploy.py \"$BISECT_ENVIRONMENT\" data8 \"$BISECT_COMMIT\"")
    #expect(configuration.testCommand == "./tests/kernel-smoke-test.sh")
    #expect(configuration.restoreTarget == .original)
    #expect(configuration.originalCommand == "cat deployed.txt")
    #expect(try configuration.environment().variables == ["HUB_URL": "https://dev.example.org"])
    #expect(configuration.environments["prod"]?.isProtected == true)
    #expect(configuration.deployTimeout == .seconds(600))
    #expect(configuration.testTimeout == .seconds(90))
    #expect(configuration.gracePeriod == .milliseconds(2500))
    #expect(configuration.deployRetries == 2)
    #expect(configuration.deployFailure == .abort)
    #expect(configuration.testTimeoutPolicy == .skip)
    #expect(!configuration.verifyEndpoints)
    #expect(configuration.firstParent)
    #expect(configuration.paths == ["config/", "hub"])
    #expect(configuration.maxDuration == .seconds(3600))
  }

  @Test(
    "mistakes name the line and the key",
    arguments: [
      ("test: x\nbogus: 1\n", 2, "bogus"),
      ("test: x\ntimeouts:\n  deploy: soon\n", 3, "deploy"),
      ("test: x\ndeploy_failure:\n  retries: -1\n", 3, "retries"),
      ("test: x\nfirst_parent: perhaps\n", 2, "first_parent"),
      ("test: x\nenvironments:\n  dev:\n    protectd: true\n", 4, "protectd"),
      ("test: [a, b]\n", 1, "test"),
    ])
  func namesLineAndKey(text: String, line: Int, key: String) {
    #expect(throws: ConfigurationError.self) { try Configuration.parse(text, path: "f.yml") }
    do {
      _ = try Configuration.parse(text, path: "f.yml")
    } catch {
      guard case .invalid(let path, let foundLine, let foundKey, _) = error else {
        Issue.record("unexpected \(error)")
        return
      }
      #expect(path == "f.yml")
      #expect(foundLine == line)
      #expect(foundKey == key)
      #expect(error.localizedDescription.hasPrefix("f.yml:\(line): key '\(key)'"))
    }
  }

  /// The message of the error `text` is refused with.
  static func refusal(_ text: String) -> String {
    do {
      _ = try Configuration.parse(text, path: "f.yml")
      return "accepted"
    } catch {
      return error.errorDescription ?? "\(error)"
    }
  }

  @Test(
    "an unknown key that looks like a typo is answered with the nearest known key, at any level",
    arguments: [
      ("tset: x\n", "f.yml:1: key 'tset': unknown key; did you mean 'test'?"),
      ("test: x\nfirst_parnet: true\n", "f.yml:2: key 'first_parnet': unknown key; did you mean 'first_parent'?"),
      ("test: x\ntimeouts:\n  tset: 5\n", "f.yml:3: key 'tset': unknown key; did you mean 'test'?"),
      ("test: x\nflaky:\n  budgte: 5\n", "f.yml:3: key 'budgte': unknown key; did you mean 'budget'?"),
    ])
  func unknownKeySuggestsNearest(text: String, message: String) {
    #expect(Self.refusal(text) == message)
  }

  @Test("an unknown top-level key near none points at docs/configuration.md instead of listing 31 keys")
  func unknownKeyFarFromAll() {
    #expect(
      Self.refusal("test: x\nbogus: 1\n")
        == "f.yml:2: key 'bogus': unknown key (every key is described in docs/configuration.md).")
  }

  @Test("an unknown key near none of a short mapping's keys lists them")
  func unknownKeyOfShortMapping() {
    #expect(
      Self.refusal("test: x\nrestore:\n  whereto: good\n")
        == "f.yml:3: key 'whereto': unknown key (known here: to, original_command).")
  }

  @Test(
    "a configuration path that is not a readable regular file is said to be what it is",
    arguments: [
      ("/dev/null", "Cannot read the configuration file '/dev/null': it is a character device, not a regular file."),
      ("/", "Cannot read the configuration file '/': it is a folder, not a file."),
      ("/nonexistent/c.yml", "Cannot read the configuration file '/nonexistent/c.yml': there is no such file."),
    ])
  func unreadablePath(path: String, message: String) {
    do {
      _ = try Configuration.load(path: path)
      Issue.record("read \(path)")
    } catch {
      #expect(error.errorDescription == message)
    }
  }

  @Test("broken YAML is a syntax error with its line")
  func syntax() {
    do {
      _ = try Configuration.parse("test: ok\ndeploy: [unclosed\n", path: "f.yml")
      Issue.record("accepted broken YAML")
    } catch {
      guard case .syntax(_, let line, _) = error else {
        Issue.record("unexpected \(error)")
        return
      }
      #expect(line != nil)
    }
  }

  @Test("the environment: named, else dev, else the only one, else 'default'; several need a choice")
  func environmentChoice() throws {
    var configuration = Configuration()
    #expect(try configuration.environment().name == "default")
    configuration.environments = ["staging": DeployEnvironment(name: "staging")]
    #expect(try configuration.environment().name == "staging")
    configuration.environments["dev"] = DeployEnvironment(name: "dev")
    #expect(try configuration.environment().name == "dev")
    configuration.environments.removeValue(forKey: "dev")
    configuration.environments["prod"] = DeployEnvironment(name: "prod", isProtected: true)
    #expect(throws: ConfigurationError.noEnvironmentChosen(known: ["prod", "staging"])) {
      try configuration.environment()
    }
    configuration.environmentNames = ["qa"]
    #expect(throws: ConfigurationError.unknownEnvironment("qa", known: ["prod", "staging"])) {
      try configuration.environment()
    }
  }

  @Test("restore targets: the keywords, and any other word is a revision (a tag named known-good too)")
  func restoreTargets() {
    #expect(RestoreTarget(parsing: "good") == .lastGood)
    #expect(RestoreTarget(parsing: "original") == .original)
    #expect(RestoreTarget(parsing: "none") == RestoreTarget.none)
    #expect(RestoreTarget(parsing: "known-good") == .revision("known-good"))
    #expect(RestoreTarget(parsing: "v1.2~1") == .revision("v1.2~1"))
  }

  @Test("durations: seconds, units, fractions; nonsense is refused")
  func durations() {
    #expect(parseDuration("90") == .seconds(90))
    #expect(parseDuration("1.5") == .milliseconds(1500))
    #expect(parseDuration("10m") == .seconds(600))
    #expect(parseDuration("2h") == .seconds(7200))
    #expect(parseDuration("soon") == nil)
    #expect(parseDuration("-3") == nil)
  }
}
