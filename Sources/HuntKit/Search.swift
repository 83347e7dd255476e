import BisectEngine
import Foundation
import GitKit
import History
import HuntStore

/// The commits `names` name, each once, in the order first named: `--good` given 2,000 times
/// is one good.
func resolveGoods(_ names: [String], in repository: Repository) throws(GitError) -> [ObjectID] {
  var goods = [ObjectID]()
  var seen = Set<ObjectID>()
  for name in names {
    let id = try repository.resolve(name)
    if seen.insert(id).inserted { goods.append(id) }
  }
  return goods
}

/// The goods worth an endpoint check: a good that is an ancestor of another good is good if
/// that one is, so it is not deployed too. Pairs are compared for up to 64 goods; more are all
/// checked, as named.
func goodsWorthChecking(_ goods: [ObjectID], in repository: Repository) -> [ObjectID] {
  guard goods.count > 1, goods.count <= 64 else { return goods }
  return goods.filter { good in
    !goods.contains { other in other != good && ((try? repository.isAncestor(good, of: other)) ?? false) }
  }
}

extension HuntSession {
  /// Applies verdicts given by hand (`bisect-deploy good|bad|skip`) that come next in the
  /// stored order.
  package mutating func applyManualVerdicts() {
    while let next = replay.first, next.purpose == .manual {
      replay.removeFirst()
      guard let verdict = next.verdict, let id = ObjectID(hex: next.commit) else { continue }
      let value = verdict
      bisection.record(value, for: id)
      var record = StepRecord(number: next.number, commit: id, purpose: .manual, logDirectory: logDirectory)
      record.result = .verdict(value)
      record.replayed = true
      steps.append(record)
    }
  }

  /// Verifies the endpoints, then bisects (by plain or probabilistic search), then descends
  /// into the blamed merge when asked.
  package mutating func search() async -> HuntOutcome {
    if let earlyOutcome = await recordOriginal() { return earlyOutcome }
    applyManualVerdicts()
    if configuration.verifyEndpoints {
      // With several environments bad and the goods are checked in one round; with one, bad
      // first, so that a bad that passes ends the hunt before anything else is deployed.
      // With a flaky test each check is one piece of evidence: a passing bad ends nothing (the
      // search tests it again when that pays, and says "no regression" only when the runs
      // say so), and the goods are checked after it as usual.
      let goodJobs: [Job] = goodsToCheck().map { ($0, .verifyGood) }
      let together = active.count > 1
      let flaky = configuration.flaky != nil
      var records: [StepRecord]
      if together && !flaky {
        records = await runRound([(bad, .verifyBad)] + goodJobs)
      } else {
        records = await runRound([(bad, .verifyBad)])
        let decided = records.allSatisfy {
          if case .verdict(let verdict) = $0.result { return flaky || verdict != .good }
          return false
        }
        if decided {
          records += await runRound(goodJobs)
        }
      }
      if let why = Self.testNotRunnable(in: records) { return .aborted(why) }
      for record in records {
        switch record.result {
        case .stopped: return .stopped(stopper.reason ?? .signal(SIGINT))
        case .abort(let why): return .aborted(why)
        case .verdict(.good) where record.purpose == .verifyBad && !flaky: return .noRegression
        case .verdict(let verdict) where record.purpose == .verifyGood: bisection.record(verdict, for: record.commit)
        case .verdict: break  // a skipped bad stays bad by definition
        }
      }
    }
    if configuration.flaky != nil { return await flakySearch() }
    let outcome = await bisect(purpose: .bisect)
    guard configuration.descend, case .culprit(let merge) = outcome else { return outcome }
    return await descend(into: merge)
  }

  /// The goods worth an endpoint check (`goodsWorthChecking`).
  func goodsToCheck() -> [ObjectID] { goodsWorthChecking(goods, in: repository) }

  /// Why the endpoint checks say nothing about the commits: the shell could not find (127)
  /// or could not run (126) the test in a good endpoint's checkout. Every step runs in a clean
  /// checkout of its commit, so a test script that is not committed there is not found, and
  /// every commit would look bad. As `git bisect run`, which checks a first run's 126 or 127 on
  /// the good side: a bad endpoint's 126 or 127 alone is a verdict like any other.
  static func testNotRunnable(in records: [StepRecord]) -> String? {
    for record in records where record.purpose == .verifyGood {
      guard case .exited(let status) = record.test?.termination, status == 126 || status == 127 else { continue }
      let what =
        status == 127
        ? "was not found (exit 127) in the clean checkout of good \(record.commit.short())"
        : "was found but could not be run (exit 126: not executable) in the clean checkout of good \(record.commit.short())"
      let fix =
        status == 127
        ? "Each step runs the test in a checkout of its commit, so a script that is not committed there does not exist: commit it, or give --test (or test:) an absolute path"
        : "Make it executable and commit that (git update-index --chmod=+x), run it through its interpreter (--test 'sh ./smoke.sh'), or give an absolute path"
      let log = record.test.map { " (log: \($0.logFile.path))" } ?? ""
      return "the test command \(what)\(log). \(fix). Nothing was blamed."
    }
    return nil
  }

  /// Asks the engine for rounds of commits until it concludes.
  package mutating func bisect(purpose: StepRecord.Purpose) async -> HuntOutcome {
    while true {
      applyManualVerdicts()
      if let reason = stopper.reason { return .stopped(reason) }
      switch bisection.nextRound(count: active.count) {
      case .concluded(let conclusion):
        return outcome(of: conclusion)
      case .test(let commits):
        let records = await runRound(commits.map { ($0, purpose) })
        // Verdicts go to the engine in the round's order, whatever order they came in, so
        // a resumed hunt asks the same next round.
        for record in records {
          switch record.result {
          case .stopped: return .stopped(stopper.reason ?? .signal(SIGINT))
          case .abort(let why): return .aborted(why)
          case .verdict(let verdict): bisection.record(verdict, for: record.commit)
          }
        }
      }
    }
  }

  package func outcome(of conclusion: Conclusion) -> HuntOutcome {
    switch conclusion {
    case .culprit(let id): .culprit(id)
    case .culpritAmong(let ids): .culpritAmong(ids)
    case .emptyRange, .noCandidate: .nothingToSearch(conclusion)
    case .badFoundGood, .goodFoundBad, .fixedBetween: .contradiction(conclusion)
    }
  }
}
