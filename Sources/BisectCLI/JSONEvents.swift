import Foundation
import GitKit
import History
import HuntKit

/// The `--json` stream: one object per line on standard output (schema in docs/json.md).
enum JSONEvents {
  static func emit(_ object: [String: Any]) {
    guard let data = encoded(object) else { return }
    FileHandle.standardOutput.write(data + Data("\n".utf8))
  }

  /// One object as the stream writes it: what `format: json` notifications send too.
  static func encoded(_ object: [String: Any]) -> Data? {
    try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
  }

  static func seconds(_ duration: Duration) -> Double {
    ((Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18) * 1000).rounded() / 1000
  }

  static func object(for event: HuntEvent) -> [String: Any] {
    switch event {
    case .started(let candidates, let estimate, let environment):
      return [
        "event": "started", "candidates": candidates, "estimatedSteps": estimate.steps,
        "endpointChecks": estimate.endpointChecks, "estimatedRounds": estimate.searchRounds,
        "parallel": estimate.parallel, "environment": environment,
      ]
    case .stepStarted(let number, let commit, let remaining, let purpose, let environment):
      return [
        "event": "step-started", "step": number, "commit": commit.id.hex, "subject": commit.summary,
        "remaining": remaining, "purpose": purpose.rawValue, "environment": environment,
      ]
    case .environmentRetired(let name, let reason):
      return ["event": "environment-retired", "environment": name, "reason": reason]
    case .waitingForEnvironment(let ahead, let holders):
      return ["event": "waiting-for-environment", "ahead": ahead, "holders": holders]
    case .leaseTakenOver(let taken):
      return [
        "event": "lease-taken-over", "environment": taken.environment, "reason": taken.reason.rawValue,
        "previousHunt": taken.previous.huntID, "previousHost": taken.previous.host,
        "previousPid": Int(taken.previous.pid),
      ]
    case .environmentsLeased(let names):
      return ["event": "environments-leased", "environments": names]
    case .phase(let number, let phase):
      return ["event": "phase", "step": number, "phase": phase.rawValue]
    case .stepFinished(let record):
      var object: [String: Any] = [
        "event": "verdict", "step": record.number, "commit": record.commit.hex, "purpose": record.purpose.rawValue,
        "verdict": Summary.describe(record.result), "reused": record.reused, "replayed": record.replayed,
        "seconds": seconds(record.totalTime), "environment": record.environment,
      ]
      if record.moved { object["moved"] = true }
      if record.retest { object["retest"] = true }
      if let pin = record.dependency {
        object["dependency"] = pin.name
        object["revision"] = pin.revision
      }
      if record.runVerdicts.count > 1 { object["runs"] = record.runVerdicts.map(\.rawValue) }
      if let test = record.test, case .exited(let code) = test.termination { object["testExitCode"] = Int(code) }
      if !record.deployAttempts.isEmpty { object["deployAttempts"] = record.deployAttempts.count }
      return object
    case .restoring(let commit):
      return ["event": "restoring", "commit": commit?.id.hex ?? NSNull()]
    case .restored(let result):
      return ["event": "restored", "result": result.map { "\($0.termination)" } ?? NSNull()]
    case .dependencyBump(let bump):
      return [
        "event": "dependency-bump", "dependency": bump.name, "old": bump.old, "new": bump.new,
        "candidates": bump.candidates, "revisions": bump.revisions,
      ]
    case .dependencyAnswer(let finding):
      var object = dependency(finding)
      object["event"] = "dependency-answer"
      return object
    }
  }

  /// A dependency's finding (`--descend-deps`), for the `result` and `dependency-answer` objects.
  static func dependency(_ finding: DependencyFinding) -> [String: Any] {
    var object: [String: Any] = [
      "dependency": finding.name, "old": finding.old ?? NSNull(), "new": finding.new, "files": finding.files,
      "answer": finding.answer.rawValue, "candidates": finding.candidates,
    ]
    if let revisions = finding.revisions { object["revisions"] = revisions }
    if let version = finding.version { object["version"] = version }
    if let note = finding.note { object["note"] = note }
    let describe = { (id: ObjectID) -> [String: Any] in
      var commit: [String: Any] = ["id": id.hex]
      if let info = finding.commits[id] {
        commit["subject"] = info.summary
        commit["author"] = "\(info.author.name) <\(info.author.email)>"
        commit["authorTime"] = Date(timeIntervalSince1970: TimeInterval(info.author.time)).formatted(.iso8601)
      }
      return commit
    }
    if let commit = finding.commit { object["commit"] = describe(commit) }
    if let merge = finding.merge { object["merge"] = describe(merge) }
    if let number = Summary.pullRequest(of: finding) { object["pullRequest"] = number }
    return object
  }

  static func commit(_ id: ObjectID, _ report: HuntReport) -> [String: Any] {
    var object: [String: Any] = ["id": id.hex]
    if let info = report.commits[id] {
      object["subject"] = info.summary
      object["author"] = "\(info.author.name) <\(info.author.email)>"
      object["authorTime"] = Date(timeIntervalSince1970: TimeInterval(info.author.time)).formatted(.iso8601)
    }
    return object
  }

  static func result(_ report: HuntReport, exitCode: Int32) -> [String: Any] {
    var object: [String: Any] = [
      "event": "result", "exitCode": Int(exitCode), "environment": report.environment, "bad": report.bad.hex,
      "goods": report.goods.map(\.hex), "candidates": report.candidateCount, "steps": report.decidedSteps.count,
      "seconds": seconds(report.duration), "logs": report.logDirectory.path,
      "reused": report.steps.filter(\.reused).map(\.commit.hex),
      "restoredTo": report.restoredTo?.hex ?? NSNull(), "environments": report.environments,
      // A stopped hunt stays open for `resume --hunt N` or `reset --hunt N`.
      "hunt": Int(report.huntID), "open": report.outcome.isStopped,
    ]
    if !report.retiredEnvironments.isEmpty { object["retiredEnvironments"] = report.retiredEnvironments }
    if !report.restoreFailures.isEmpty { object["restoreFailures"] = report.restoreFailures }
    if let descent = report.descent {
      var inner: [String: Any] = ["merge": commit(descent.merge, report), "innerCandidates": descent.innerCandidates]
      if let found = descent.commit { inner["commit"] = found.hex }
      if let note = descent.note { inner["note"] = note }
      object["descent"] = inner
    }
    if report.dependenciesSearched { object["dependencies"] = report.dependencies.map(dependency) }
    if let confirmation = report.confirmation {
      let tally = { (t: Confirmation.Tally) -> [String: Any] in
        ["commit": t.commit.hex, "bad": t.bad, "good": t.good, "skipped": t.skipped]
      }
      var inner: [String: Any] = [
        "holds": confirmation.holds, "culprit": tally(confirmation.culprit), "parents": confirmation.parents.map(tally),
      ]
      if let model = confirmation.model {
        inner["model"] = [
          "falseBad": model.falseBad, "falseGood": model.falseGood, "confidence": model.confidence,
          "culpritProbabilityBad": model.probabilityBad(confirmation.culprit),
          "parentsProbabilityGood": confirmation.parents.map { 1 - model.probabilityBad($0) },
        ]
      }
      object["confirmation"] = inner
    }
    if let revert = report.revert {
      let summary = revert.summary
      var inner: [String: Any] = ["result": summary.result.rawValue, "sentence": summary.sentence]
      if let commit = summary.commit { inner["commit"] = commit }
      if let reference = summary.reference { inner["ref"] = reference }
      if !summary.files.isEmpty { inner["files"] = summary.files }
      if let reason = summary.reason { inner["reason"] = reason }
      object["revert"] = inner
    }
    if let flaky = report.flaky {
      var probabilistic: [String: Any] = [
        "culprit": flaky.culprit.hex, "probability": flaky.probability, "reason": flaky.reason,
        "testRuns": flaky.testRuns, "confidence": flaky.confidence, "falseBad": flaky.falseBad,
        "falseGood": flaky.falseGood, "deploys": flaky.deploys, "noRegression": flaky.noRegression,
      ]
      probabilistic["runnerUp"] = flaky.runnerUp.map { $0.hex as Any } ?? NSNull()
      probabilistic["runnerUpProbability"] = flaky.runnerUpProbability.map { $0 as Any } ?? NSNull()
      probabilistic["failureRates"] = [
        "after": flaky.failsAfter, "before": flaky.failsBefore, "noRegression": flaky.sameRate,
      ]
      probabilistic["bad"] = ["fails": flaky.badEnd.fails, "runs": flaky.badEnd.runs]
      probabilistic["good"] = ["fails": flaky.goodEnd.fails, "runs": flaky.goodEnd.runs]
      object["probabilistic"] = probabilistic
    }
    switch report.outcome {
    case .culprit(let id):
      object["outcome"] = "culprit"
      var culprit = commit(id, report)
      culprit["files"] = report.culpritFiles.map { ["status": $0.kind.rawValue, "path": $0.path] }
      object["culprit"] = culprit
      if let merge = report.culpritMerge { object["merge"] = commit(merge, report) }
    case .culpritAmong(let ids):
      object["outcome"] = "culprit-among"
      object["possibleCulprits"] = ids.map(\.hex)
    case .noRegression: object["outcome"] = "no-regression"
    case .contradiction(let conclusion):
      object["outcome"] = "contradiction"
      object["detail"] = Summary.contradiction(conclusion)
    case .nothingToSearch: object["outcome"] = "nothing-to-search"
    case .aborted(let why):
      object["outcome"] = "aborted"
      object["detail"] = why
    case .stopped(.leaseLost(let why)):
      object["outcome"] = "stopped"
      object["detail"] = "lease lost: \(why)"
    case .stopped(let cause):
      object["outcome"] = "stopped"
      object["detail"] = "\(cause)"
    }
    return object
  }
}
