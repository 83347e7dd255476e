import BisectEngine
import Foundation
import GitKit
import History
import HuntStore

/// `--confirm-revert`: bad with the culprit reverted on top (B'), deployed and tested in the
/// hunt's environment. The strongest proof an on-call person can act on.
public struct RevertProof: Sendable, Hashable {
  /// How the proof went.
  public enum Result: Sendable, Hashable {
    /// B' passes the smoke test: reverting the culprit on top of bad fixes it.
    case passes
    /// B' still fails: the culprit is not the whole story, a later change breaks it too.
    case stillFails
    /// B' could not be deployed or tested (its deploy failed, its test said skip or aborted).
    case untested(String)
    /// The revert conflicts in these files: nothing was deployed.
    case conflicts([String])
    /// B' could not be made (a git error), with why.
    case failed(String)
  }

  public var culprit: ObjectID
  public var bad: ObjectID
  /// B', when it was made.
  public var commit: ObjectID?
  /// Where B' is kept (`refs/bisect-deploy/revert/<hunt>`), when it was made.
  public var reference: String?
  public var result: Result

  /// The reference that keeps hunt `huntID`'s revert commit.
  public static func reference(hunt huntID: Int64) -> String { OutcomeText.Revert.reference(hunt: huntID) }

  /// The message of the revert commit, in git's words for a revert, with why it was made.
  static func message(culprit: ObjectID, facts: CommitInfo?, bad: ObjectID) -> String {
    var text = "Revert \"\(facts?.summary ?? culprit.hex)\"\n\nThis reverts commit \(culprit.hex)"
    if let parents = facts?.parents, parents.count > 1 {
      text += ", reversing\nchanges made to \(parents[0].hex)"
    }
    text += ".\n\nMade by bisect-deploy on top of \(bad.hex) to check that the commit it\n"
    text += "reverts is the culprit: bad with it reverted is deployed and smoke-tested.\n"
    return text
  }
}

extension HuntSession {
  /// Builds B' (bad with `culprit` reverted, in memory: the user's work tree, index and HEAD
  /// are not touched), keeps it under `refs/bisect-deploy/revert/<hunt>`, then deploys and
  /// tests it as any step (`repeat`, and for `--flaky` a majority of up to three runs).
  /// Returns an outcome only when the hunt was stopped meanwhile; a stopped hunt makes the
  /// same B' again on resume, so its stored step is replayed.
  mutating func proveByRevert(_ culprit: ObjectID) async -> HuntOutcome? {
    var proof = RevertProof(culprit: culprit, bad: bad, result: .failed("not made"))
    let made: RevertResult
    do {
      let facts = try info(culprit)
      made = try repository.revert(
        culprit, onto: bad, message: RevertProof.message(culprit: culprit, facts: facts, bad: bad))
    } catch {
      proof.result = .failed(error.errorDescription ?? "\(error)")
      findings.revert = proof
      return nil
    }
    let commit: ObjectID
    switch made {
    case .conflicts(let files):
      proof.result = .conflicts(files)
      findings.revert = proof
      return nil
    case .commit(let id):
      commit = id
    }
    proof.commit = commit
    let reference = RevertProof.reference(hunt: huntID)
    do {
      try repository.setReference(reference, to: commit)
      proof.reference = reference
    } catch {
      proof.result = .failed(error.errorDescription ?? "\(error)")
      findings.revert = proof
      return nil
    }
    var runs = TestRuns.of(configuration)
    // As for bad before a flaky search: one passing run must not settle it.
    if configuration.flaky != nil { runs = TestRuns(count: max(3, runs.count), rule: .majority, stopEarly: true) }
    let record = await runRound([(commit, .revert)], runs: runs)[0]
    switch record.result {
    case .stopped:
      return .stopped(stopper.reason ?? .signal(SIGINT))
    case .verdict(.good):
      proof.result = .passes
    case .verdict(.bad):
      proof.result = .stillFails
    case .verdict(.skip):
      proof.result = .untested(
        record.note ?? (record.deployFailed ? "its deploy failed" : "the smoke test said skip (exit 125)"))
    case .abort(let why):
      proof.result = .untested(why)
    }
    findings.revert = proof
    return nil
  }
}

extension RevertProof {
  /// The proof as the stored outcome keeps it.
  var stored: OutcomeText.Revert {
    switch result {
    case .passes: OutcomeText.Revert(result: .passes, commit: commit?.hex)
    case .stillFails: OutcomeText.Revert(result: .stillFails, commit: commit?.hex)
    case .untested: OutcomeText.Revert(result: .untested, commit: commit?.hex)
    case .conflicts(let files) where !files.isEmpty: OutcomeText.Revert(result: .conflicts, files: files)
    case .conflicts, .failed: OutcomeText.Revert(result: .failed)
    }
  }
}
