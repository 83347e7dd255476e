import BisectEngine
import Foundation
import GitKit
import History

/// The dependency that the running steps pin (`--descend-deps`): every step of the stage
/// deploys the culprit's tree with this dependency's pin rewritten to the step's commit (or
/// version), and every other pin the culprit bumped written back as its parent had it.
package struct DependencyStage {
  package var bump: PinBump
  package var range: DependencyRange
  /// The other bumped pins, as the culprit's parent wrote them.
  package var others: [PinRewrite]
  /// The culprit: the tree every step deploys.
  package var culprit: ObjectID
  /// The dependency's history (stays on the hunt's task).
  package let repository: Repository

  package var name: String { bump.dependency.name }

  /// The pins to write into the culprit's checkout for a step on `commit`.
  package func rewrites(for commit: ObjectID) -> [PinRewrite] {
    [PinRewrite(dependency: bump.dependency, from: Set(bump.new), to: range.text(for: commit), paths: bump.paths)]
      + others
  }
}

extension HuntSession {
  /// `--descend-deps`: the culprit is known; for each pin it bumps (old an ancestor of new in
  /// the dependency's history), hunt inside the dependency. Every step deploys the culprit's
  /// tree with the pin rewritten in the checkout.
  ///
  /// First the culprit with every bumped pin as before is tested: if it still fails, the
  /// bumps are not the cause. With several bumps, each is then tested alone (the others as
  /// before); one that passes is not the cause. Then the dependency's commits (or versions)
  /// between the pins are bisected as the hunt's own were: all of them, or the first-parent
  /// line with `--first-parent` and `--descend` (and then inside the merge). Returns an
  /// outcome only when the hunt was stopped meanwhile.
  package mutating func descendDependencies(of culprit: ObjectID) async -> HuntOutcome? {
    findings.dependencySearch = true
    let bumps: [PinBump]
    do {
      bumps = try PinReading.bumps(by: culprit, in: repository, dependencies: configuration.dependencies)
    } catch {
      for dependency in configuration.dependencies {
        answer(
          DependencyFinding(
            name: dependency.name, old: nil, new: "", files: [], answer: .inconclusive,
            note: "the culprit's files cannot be read: \(error.errorDescription ?? "\(error)")"))
      }
      return nil
    }
    var plans = [(bump: PinBump, range: DependencyRange)]()
    for bump in bumps {
      var finding = DependencyFinding(
        name: bump.dependency.name, old: bump.old.first, new: bump.new[0], files: bump.paths, answer: .notDescended)
      if let problem = bump.problem {
        finding.note = problem
        answer(finding)
        continue
      }
      guard let pins = bump.single, let history = setup.dependencyHistories[bump.dependency.name] else {
        finding.note = "its history is not open"
        answer(finding)
        continue
      }
      switch DependencyRange.make(
        name: bump.dependency.name, old: pins.old, new: pins.new, in: history, firstParent: configuration.firstParent)
      {
      case .failure(let refusal):
        finding.note = refusal.reason
        answer(finding)
      case .success(let range):
        plans.append((bump, range))
      }
    }
    defer { dependencyStage = nil }
    guard let first = plans.first else { return nil }
    // With several pins bumped, the culprit's tree with one of them bumped is a state of its
    // own; with one, it is the culprit itself, known bad.
    let several = bumps.count > 1
    stage(first.bump, first.range, among: bumps, culprit: culprit)
    var jobs: [Job] = [(first.range.old, .dependencyCheck)]
    if several { jobs.append((first.range.new, .dependencyCheck)) }
    let checks = await runRound(jobs, runs: checkRuns)
    if checks.contains(where: { $0.result == .stopped }) { return .stopped(stopper.reason ?? .signal(SIGINT)) }
    let allOld = checks[0].result
    guard allOld == .verdict(.good) else {
      for plan in plans {
        var finding = started(plan.bump, plan.range, answer: .inconclusive)
        switch allOld {
        case .verdict(.bad):
          finding.answer = .notTheCause
          finding.note =
            "with \(bumps.count > 1 ? "its pins" : "this pin") as before (\(describe(bumps))), the culprit still fails: its other changes broke it"
        case .verdict:
          finding.note = "the culprit with its pins as before could not be deployed or tested (skipped)"
        case .abort(let why):
          finding.note = "the search stopped: \(why)"
        case .stopped:
          break
        }
        answer(finding)
      }
      return nil
    }
    var alone = [String]()
    // A test that asked to abort (above 127) stops the descent: the other pins are not searched.
    var abortion: String?
    for (index, plan) in plans.enumerated() {
      if let abortion {
        var finding = started(plan.bump, plan.range, answer: .inconclusive)
        finding.note = "not searched: the search stopped before it: \(abortion)"
        answer(finding)
        continue
      }
      stage(plan.bump, plan.range, among: bumps, culprit: culprit)
      var bumped: StepRecord.Result = .verdict(.bad)
      if several {
        if index == 0 {
          bumped = checks[1].result
        } else {
          let records = await runRound([(plan.range.new, .dependencyCheck)], runs: checkRuns)
          if records[0].result == .stopped { return .stopped(stopper.reason ?? .signal(SIGINT)) }
          bumped = records[0].result
        }
      }
      switch bumped {
      case .verdict(.bad):
        break
      case .verdict(.good):
        var finding = started(plan.bump, plan.range, answer: .notTheCause)
        finding.note = "with only this pin bumped (the others as before), the culprit passes"
        alone.append(plan.bump.dependency.name)
        answer(finding)
        continue
      default:
        var finding = started(plan.bump, plan.range, answer: .inconclusive)
        if case .abort(let why) = bumped {
          finding.note = "the search stopped: \(why)"
          abortion = why
        } else {
          finding.note = "the culprit with only this pin bumped could not be deployed or tested (skipped)"
        }
        answer(finding)
        continue
      }
      events(
        .dependencyBump(
          DependencyBumpStart(
            name: plan.bump.dependency.name, old: plan.range.oldText, new: plan.range.newText,
            candidates: plan.range.graph.candidateCount, revisions: plan.range.revisions.rawValue)))
      guard let search = await searchDependency(plan.bump, plan.range) else {
        return .stopped(stopper.reason ?? .signal(SIGINT))
      }
      answer(search.finding)
      abortion = search.abortion
    }
    // Each bump passed on its own while the culprit, with all of them, fails.
    if several, alone.count == plans.count, alone.count > 1 {
      for index in findings.dependencies.indices where alone.contains(findings.dependencies[index].name) {
        findings.dependencies[index].note =
          "with only this pin bumped (the others as before), the culprit passes: the bumps break it only together"
      }
    }
    return nil
  }

  /// Runs of the test for the checks before a descent: as for bad in a hunt, a flaky test is
  /// asked up to three times.
  private var checkRuns: TestRuns {
    var runs = TestRuns.of(configuration)
    if configuration.flaky != nil { runs = TestRuns(count: max(3, runs.count), rule: .majority, stopEarly: true) }
    return runs
  }

  /// The steps that follow pin `bump`'s dependency, with the other bumps as before.
  private mutating func stage(_ bump: PinBump, _ range: DependencyRange, among bumps: [PinBump], culprit: ObjectID) {
    let others = bumps.filter { $0.dependency != bump.dependency && $0.old.count == 1 }.map {
      PinRewrite(dependency: $0.dependency, from: Set($0.new), to: $0.old[0], paths: $0.paths)
    }
    guard let history = setup.dependencyHistories[bump.dependency.name] else { return }
    dependencyStage = DependencyStage(
      bump: bump, range: range, others: others, culprit: culprit, repository: history)
  }

  /// What the search inside one dependency found, and why it aborted when it did.
  private struct DependencySearch {
    var finding: DependencyFinding
    var abortion: String?
  }

  /// The search among the dependency's commits (or versions) between the pins; nil when
  /// the hunt was stopped.
  private mutating func searchDependency(_ bump: PinBump, _ range: DependencyRange) async -> DependencySearch? {
    var finding = started(bump, range, answer: .inconclusive)
    guard let history = dependencyStage?.repository else { return DependencySearch(finding: finding) }
    let name = bump.dependency.name
    var outcome: HuntOutcome
    if configuration.flaky != nil {
      let run = await probabilisticSearch(over: range.graph, purpose: .dependency) { record in
        record.dependency?.name == name && record.purpose.deploysDependency
          && range.graph.number(of: record.commit) != nil
      }
      outcome = run.outcome
      if let summary = run.summary {
        finding.note = String(
          format: "probability %.4f (%@, %d test runs)", summary.probability, summary.reason, summary.testRuns)
      }
    } else {
      bisection = Bisection(graph: range.graph)
      outcome = await bisect(purpose: .dependency)
    }
    switch outcome {
    case .stopped:
      return nil
    case .culprit(let commit):
      finding.answer = .found
      finding.commit = commit
      if configuration.descend, range.revisions == .commits {
        let inside = await searchInside(commit, of: history, goods: [range.old], paths: [], purpose: .dependency)
        if case .stopped = inside.outcome { return nil }
        if let descent = inside.descent {
          if let inner = descent.commit {
            finding.commit = inner
            finding.merge = commit
          } else {
            finding.answer = .merge
            finding.note = descent.note
          }
        }
      }
    case .culpritAmong(let commits):
      finding.note =
        (configuration.flaky != nil
          ? "no commit reached the confidence; the most likely are "
          : "only skipped ones are left: the first bad one is among ")
        + commits.map { range.revisions == .versions ? range.text(for: $0) : $0.short() }.joined(separator: ", ")
        + (finding.note.map { " (\($0))" } ?? "")
    case .aborted(let why):
      finding.note = "the search inside it stopped: \(why)"
      return DependencySearch(finding: finding, abortion: why)
    case .contradiction(let conclusion):
      finding.note = "the verdicts on its commits contradict each other (\(conclusion.explanation))"
    case .nothingToSearch, .noRegression:
      finding.note = "nothing between the pins could be blamed"
    }
    guard let commit = finding.commit else { return DependencySearch(finding: finding) }
    if range.revisions == .versions, finding.answer == .found { finding.version = range.text(for: commit) }
    // The pull request: the merge on the dependency's first-parent line that brought it in.
    if finding.merge == nil, range.revisions == .commits,
      let line = try? history.commitGraph(bad: range.new, goods: [range.old], paths: [], firstParent: true)
    {
      finding.merge = try? history.firstContaining(commit, along: line.ids)
    }
    for id in [finding.commit, finding.merge].compactMap({ $0 }) {
      if let facts = try? history.commit(id) { finding.commits[id] = facts }
    }
    return DependencySearch(finding: finding)
  }

  /// A finding about `bump`, with the range's facts filled in.
  private func started(_ bump: PinBump, _ range: DependencyRange, answer: DependencyFinding.Answer)
    -> DependencyFinding
  {
    var finding = DependencyFinding(
      name: bump.dependency.name, old: range.oldText, new: range.newText, files: bump.paths, answer: answer)
    finding.revisions = range.revisions.rawValue
    finding.candidates = range.graph.candidateCount
    return finding
  }

  private mutating func answer(_ finding: DependencyFinding) {
    findings.dependencies.append(finding)
    events(.dependencyAnswer(finding))
  }

  private func describe(_ bumps: [PinBump]) -> String {
    bumps.compactMap { bump in bump.old.first.map { "\(bump.dependency.name) \(Self.short($0))" } }.joined(
      separator: ", ")
  }

  /// A revision as the summary shows it: a commit's first 7 digits, anything else whole.
  package static func short(_ revision: String) -> String {
    revision.utf8.count == 40 && ObjectID(hex: revision) != nil ? String(revision.prefix(7)) : revision
  }

  /// Writes the stage's pins for a step on `commit` into its fresh checkout of the culprit.
  package func writeDependencyPins(for commit: ObjectID, in checkout: URL) throws(HuntError) {
    guard let stage = dependencyStage else {
      throw .pinRewrite(dependency: "?", path: checkout.path, reason: "no dependency is being searched")
    }
    for rewrite in stage.rewrites(for: commit) { try rewrite.apply(in: checkout) }
  }

  /// What a dependency step's commands learn besides the culprit's `BISECT_*` facts.
  package func dependencyVariables(for commit: ObjectID) -> [String: String] {
    guard let stage = dependencyStage else { return [:] }
    return [
      "BISECT_DEPENDENCY": stage.name, "BISECT_DEPENDENCY_REVISION": stage.range.text(for: commit),
      "BISECT_DEPENDENCY_COMMIT": commit.hex,
    ]
  }
}
