import ArgumentParser
import BisectEngine
import Foundation
import GitKit
import History
import HuntKit

/// `bisect-deploy plan`: what a hunt would do, without deploying anything. It takes the
/// hunt's own options and configuration (`HuntCommand.makeRequest`, the same checks and the
/// same errors), so that putting `plan` in front of a hunt's command line plans that hunt.
struct PlanCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "plan",
    abstract:
      "Show what a hunt would do: its candidate commits, the steps it expects, and the first ones it would test.",
    discussion: """
      It takes a hunt's options and reads the configuration as the hunt does (bisect-deploy.yml \
      at the repository root, or --config), so that a hunt's command line is planned by putting \
      plan in front of it. The options that change the plan are used: the range (--good, --bad, \
      --first-parent, paths after --), the environments (--env, or --env-pool with --parallel, \
      as many as are free), --descend (its first stage runs along first parents), --flaky and \
      its settings (the estimate is then in test runs), and --no-verify (no endpoint checks). \
      The others (--deploy, --test, the timeouts, --report...) are accepted and named on \
      standard error as ignored.

      A step is one deploy and test of one commit; a round is the steps run at once, one per \
      environment. A hunt first checks bad, then each good (unless --no-verify), then bisects.
      """)

  @OptionGroup var hunt: HuntCommand

  func run() throws {
    let ignored = ignoredOptions
    if !ignored.isEmpty {
      printError(
        "note: plan ignores \(ignored.joined(separator: ", ")): \(ignored.count == 1 ? "it does" : "they do") not change the plan."
      )
    }
    let plan = try HuntPlan(try hunt.makeRequest())
    let configuration = plan.configuration
    let bisection = plan.bisection
    var infos = [CommitInfo]()
    for id in plan.firstRound { infos.append(try plan.repository.commit(id)) }
    let pool = !configuration.environmentPool.isEmpty
    if hunt.json {
      struct Entry: Encodable {
        var id: String
        var summary: String
        var reach: Int?
      }
      struct Output: Encodable {
        var candidates: Int
        var parallel: Int
        var estimatedRounds: Int
        var endpointChecks: Int
        var estimatedSteps: Int
        var flaky: Bool
        var descend: Bool
        var firstParent: Bool
        var paths: [String]
        var environments: [String]
        var pool: Bool
        var mergeBasesToCheck: [String]
        var firstRound: [Entry]
        var conclusion: String?
        var ignoredOptions: [String]
      }
      let output = Output(
        candidates: bisection.remainingCount, parallel: plan.width, estimatedRounds: plan.estimate.searchRounds,
        endpointChecks: plan.estimate.endpointChecks, estimatedSteps: plan.estimate.steps,
        flaky: configuration.flaky != nil, descend: configuration.descend, firstParent: configuration.firstParent,
        paths: configuration.paths, environments: plan.environments.map(\.name), pool: pool,
        mergeBasesToCheck: bisection.uncheckedMergeBases.map(\.hex),
        firstRound: infos.map { Entry(id: $0.id.hex, summary: $0.summary, reach: bisection.reach(of: $0.id)) },
        conclusion: plan.conclusion.map(\.token), ignoredOptions: ignored)
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
      writeJSON(String(decoding: try encoder.encode(output), as: UTF8.self))
      return
    }
    let candidates = bisection.remainingCount
    let along = configuration.firstParent ? " on the first-parent line" : ""
    print("\(candidates) candidate commit\(candidates == 1 ? "" : "s")\(along)")
    if configuration.descend {
      print("--descend: this is the first stage; the commits inside the merge it blames are searched after it")
    }
    let names = plan.environments.map(\.name).joined(separator: ", ")
    if pool {
      print("environments: up to \(plan.width) at once of the pool \(names) (as many as are free)")
    } else {
      print("environment\(plan.width == 1 ? "" : "s"): \(names)")
    }
    print(plan.estimate.sentence)
    if let conclusion = plan.conclusion {
      print("nothing to test: \(conclusion.explanation)")
      return
    }
    let after = plan.estimate.endpointChecks > 0 ? " after the endpoint checks" : ""
    if infos.count == 1 {
      print("first step\(after): 1 commit")
    } else {
      print("first round\(after): \(infos.count) commits, one per environment")
    }
    for info in infos {
      let reach = bisection.reach(of: info.id).map { " (reach \($0))" } ?? " (merge base, checked first)"
      print("first: \(info.id.hex) \(info.summary)\(reach)")
    }
  }

  /// The hunt's options given here that do not change the plan, as typed. Every option of
  /// the hunt is sorted here (a new one does not compile until it is), so that none is
  /// ignored silently.
  var ignoredOptions: [String] {
    HuntCommand.CodingKeys.allCases.compactMap { key -> String? in
      let (given, flag): (Bool, String)
      switch key {
      // The range, the configuration, the environments, the kind of search, the endpoint
      // checks, and the output's form change the plan.
      case .range, .config, .env, .envPool, .parallel, .descend, .flaky, .falseBad, .falseGood, .confidence, .budget,
        .deployCost, .testCost, .noVerify, .json:
        return nil
      // What is deployed and how, what happens after the search, and where it is recorded do not.
      case .deploy: (given, flag) = (hunt.deploy != nil, "--deploy")
      case .test: (given, flag) = (hunt.test != nil, "--test")
      case .restore: (given, flag) = (hunt.restore != nil, "--restore")
      case .allowProtected: (given, flag) = (!hunt.allowProtected.isEmpty, "--allow-protected")
      case .deployTimeout: (given, flag) = (hunt.deployTimeout != nil, "--deploy-timeout")
      case .testTimeout: (given, flag) = (hunt.testTimeout != nil, "--test-timeout")
      case .maxDuration: (given, flag) = (hunt.maxDuration != nil, "--max-duration")
      case .waitForEnv: (given, flag) = (hunt.waitForEnv != nil, "--wait-for-env")
      case .leaseDuration: (given, flag) = (hunt.leaseDuration != nil, "--lease-duration")
      case .leaseRenew: (given, flag) = (hunt.leaseRenew != nil, "--lease-renew")
      case .repeatRuns: (given, flag) = (hunt.repeatRuns != nil, "--repeat")
      case .repeatRule: (given, flag) = (hunt.repeatRule != nil, "--repeat-rule")
      case .confirm: (given, flag) = (hunt.confirm != nil, "--confirm")
      case .confirmRevert: (given, flag) = (hunt.confirmRevert, "--confirm-revert")
      case .descendDependencies: (given, flag) = (hunt.descendDependencies, "--descend-deps")
      case .allowNetwork: (given, flag) = (hunt.allowNetwork, "--allow-network")
      case .reuseVerdicts: (given, flag) = (hunt.reuseVerdicts, "--reuse-verdicts")
      case .state: (given, flag) = (hunt.state != nil, "--state")
      case .report: (given, flag) = (hunt.report != nil, "--report")
      case .quiet: (given, flag) = (hunt.quiet, "--quiet")
      case .verbose: (given, flag) = (hunt.verbose, "--verbose")
      }
      return given ? flag : nil
    }
  }
}
