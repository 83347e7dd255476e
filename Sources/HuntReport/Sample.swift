import Foundation
import History

extension HuntSummary {
  /// An example hunt for documentation and tests, shaped like the 2017-03-23 kernel-death
  /// incident of data-8/jupyterhub-k8s: 20 candidates from March 20 to 22 with pull-request
  /// merges, 7 steps (one verdict reused, one replayed, one skip), and the culprit
  /// "Generalization cleanup", the single commit of pull request #146. Hashes are made up.
  public static func sample() -> HuntSummary {
    // Oldest first: key, subject, (day, hour, minute) Pacific time, on the first-parent
    // history, parents by key (first parent first). Key 0 is the known-good boundary.
    let history: [(Int, String, (Int, Int, Int), Bool, [Int])] = [
      (0, "Merge pull request #141 from data-8/culler-settings", (19, 17, 55), true, []),
      (1, "Bump nbgrader to 0.4.1", (20, 9, 40), false, [0]),
      (2, "Merge pull request #142 from data-8/nbgrader-041", (20, 10, 5), true, [0, 1]),
      (3, "Raise the hub's memory limit to 2G", (20, 13, 12), true, [2]),
      (4, "Add the stat28 course to the allowed groups", (20, 15, 30), false, [3]),
      (5, "Fix the group list's indentation", (20, 16, 2), false, [4]),
      (6, "Merge pull request #143 from data-8/stat28", (20, 16, 40), true, [3, 5]),
      (7, "Pin the proxy image to 1.1.0", (21, 8, 50), true, [6]),
      (8, "Larger persistent storage for prod", (21, 10, 15), false, [7]),
      (9, "Merge pull request #144 from data-8/prod-storage", (21, 11, 30), true, [7, 8]),
      (10, "Generalization cleanup", (21, 13, 20), false, [9]),
      (11, "README: mention the on-call channel", (21, 13, 41), true, [9]),
      (12, "Merge pull request #146 from data-8/generalization-cleanup", (21, 14, 2), true, [11, 10]),
      (13, "Show the hub version in the page footer", (21, 17, 10), false, [12]),
      (14, "Merge pull request #147 from data-8/footer-version", (21, 17, 48), true, [12, 13]),
      (15, "Lower the culler timeout on dev", (21, 20, 5), true, [14]),
      (16, "Spawner: log pod events at info level", (22, 9, 20), false, [15]),
      (17, "Spawner: fix a typo in the event log message", (22, 9, 58), false, [16]),
      (18, "Merge pull request #148 from data-8/pod-events", (22, 11, 3), true, [15, 17]),
      (19, "Tune the proxy's idle timeout", (22, 15, 44), true, [18]),
      (20, "Update single-user image to 3f9a1c2", (22, 19, 8), true, [19]),
    ]
    let count = history.count
    let index = { (key: Int) in count - 1 - key }  // children first
    let hash = { (key: Int) in sampleHash(key) }
    let date = { (when: (Int, Int, Int)) -> Date in
      // 2017-03-20 00:00 UTC, and Pacific daylight time is UTC-7.
      let seconds: Int = (when.0 - 20) * 86_400 + (when.1 + 7) * 3600 + when.2 * 60
      return Date(timeIntervalSince1970: 1_489_968_000 + Double(seconds))
    }
    let timeline = history.reversed().map { key, subject, when, isFirstParent, parents in
      TimelineCommit(
        hash: hash(key), shortHash: String(hash(key).prefix(7)), subject: subject, date: date(when),
        isFirstParent: isFirstParent, parents: parents.map(index))
    }
    func details(_ key: Int, author: (String, String), body: String = "", files: [ChangedFile] = []) -> CommitDetails {
      let entry = history[key]
      return CommitDetails(
        hash: hash(key), shortHash: String(hash(key).prefix(7)), subject: entry.1, authorName: author.0,
        authorEmail: author.1, authorDate: date(entry.2), body: body, changedFiles: files)
    }
    let culprit = details(
      10, author: ("Chen Wei", "chen.wei@data8.example.org"),
      body: """
        - Update vendored kubespawner to 9be3ac4
        - Use generic image tags in the chart's values
        - Default the single-user storage class to `standard`
        """,
      files: [
        ChangedFile(status: "M", path: "helm-chart/values.yaml"),
        ChangedFile(status: "M", path: "hub/kubespawner/UPSTREAM"),
        ChangedFile(status: "M", path: "hub/kubespawner/objects.py"),
        ChangedFile(status: "M", path: "hub/kubespawner/spawner.py"),
      ])
    let merge = details(
      12, author: ("Ada Okafor", "ada.okafor@data8.example.org"), body: "Generalization cleanup")
    let kernelDied = """
      $ ./smoke-kernel.sh
      server: http://127.0.0.1:41873/user/demo/ (status 200)
      starting kernel python3-2017
      kernel 5f0c…: started, sending execute_request "1+1"
      no reply in 10 s: the kernel died (exit status 0, no traceback)
      FAIL: expected 2, got nothing
      """
    func step(
      _ number: Int, _ key: Int, _ purpose: StepPurpose, _ verdict: StepEnd, deploy: Double?, test: Double?,
      reused: Bool = false, replayed: Bool = false, log: String = ""
    ) -> StepSummary {
      StepSummary(
        number: number, hash: hash(key), shortHash: String(hash(key).prefix(7)), subject: history[key].1,
        purpose: purpose, verdict: verdict, reused: reused, replayed: replayed, deploySeconds: deploy,
        testSeconds: test, totalSeconds: (deploy ?? 0) + (test ?? 0) + (reused ? 0 : 1.4), logTail: log)
    }
    let steps = [
      step(1, 20, .verifyBad, .bad, deploy: 48.2, test: 11.6, log: kernelDied),
      step(2, 0, .verifyGood, .good, deploy: nil, test: nil, reused: true),
      step(3, 9, .bisect, .good, deploy: 44.0, test: 6.1, replayed: true),
      step(4, 15, .bisect, .bad, deploy: 46.7, test: 11.2, log: kernelDied),
      step(5, 12, .bisect, .bad, deploy: 45.3, test: 11.4, log: kernelDied),
      step(
        6, 11, .bisect, .skip, deploy: 120.0, test: nil,
        log: """
          $ ./deploy.py dev data8 \(hash(11).prefix(7))
          building hub image… done
          pulling single-user base image: registry timed out after 120 s
          deploy command timed out: marking the commit as skipped (exit 125)
          """),
      step(7, 10, .bisect, .bad, deploy: 47.9, test: 11.3, log: kernelDied),
    ]
    return HuntSummary(
      title: "Kernels die on dev (data-8/jupyterhub-k8s)", repository: "data-8/jupyterhub-k8s",
      environment: "dev", badHash: hash(20), goodHashes: [hash(0)], outcome: .culprit,
      outcomeText: "\(culprit.shortHash) is the first bad commit", culprit: culprit, merge: merge,
      pullRequest: pullRequestNumber(inMessage: merge.subject), steps: steps,
      totalSeconds: steps.map(\.totalSeconds).reduce(0, +) + 23.5,
      started: Date(timeIntervalSince1970: 1_490_281_320),  // 2017-03-23 15:02 UTC
      candidateCount: 20, timeline: timeline)
  }
}

extension HuntSummary {
  /// The sample hunt again, run on three environments at once with `--descend` and
  /// `--confirm 3`: rounds of up to three steps, one deploy that failed on dev3 and moved to
  /// dev1, the first-parent search blaming the merge of pull request #146, the search inside it
  /// finding "Generalization cleanup", and the confirmation holding.
  public static func parallelSample() -> HuntSummary {
    var summary = sample()
    let subjects = Dictionary(summary.timeline.map { ($0.hash, $0.subject) }, uniquingKeysWith: { first, _ in first })
    let kernelDied = summary.steps[0].logTail
    func step(
      _ number: Int, _ key: Int, _ purpose: StepPurpose, _ verdict: StepEnd, on environment: String,
      deploy: Double?, test: Double?, moved: Bool = false, runs: [Verdict] = [], log: String = ""
    ) -> StepSummary {
      let hash = sampleHash(key)
      return StepSummary(
        number: number, hash: hash, shortHash: String(hash.prefix(7)), subject: subjects[hash] ?? "", purpose: purpose,
        verdict: verdict, reused: environment.isEmpty, deploySeconds: deploy, testSeconds: test,
        totalSeconds: (deploy ?? 0) + (test ?? 0) + (environment.isEmpty ? 0 : 1.4), logTail: log,
        environment: environment, moved: moved, runVerdicts: runs)
    }
    let failedDeploy = """
      $ ./deploy.py dev3 data8 \(sampleHash(15).prefix(7))
      building hub image… done
      helm upgrade: another operation (install/upgrade/rollback) is in progress
      """
    summary.environment = "dev1,dev2,dev3"
    summary.steps = [
      step(1, 20, .verifyBad, .bad, on: "dev1", deploy: 48.2, test: 11.6, log: kernelDied),
      step(2, 0, .verifyGood, .good, on: "", deploy: nil, test: nil),
      step(3, 7, .bisect, .good, on: "dev1", deploy: 44.0, test: 6.1),
      step(4, 12, .bisect, .bad, on: "dev2", deploy: 45.3, test: 11.4, log: kernelDied),
      step(5, 15, .bisect, .skip, on: "dev3", deploy: 31.0, test: nil, moved: true, log: failedDeploy),
      step(6, 15, .bisect, .bad, on: "dev1", deploy: 46.7, test: 11.2, log: kernelDied),
      step(7, 9, .bisect, .good, on: "dev1", deploy: 44.8, test: 6.0),
      step(8, 11, .bisect, .good, on: "dev2", deploy: 45.1, test: 6.2),
      step(9, 10, .descend, .bad, on: "dev1", deploy: 47.9, test: 11.3, log: kernelDied),
      step(10, 10, .confirm, .bad, on: "dev1", deploy: 46.2, test: 33.9, runs: [.bad, .bad, .bad], log: kernelDied),
      step(11, 9, .confirm, .good, on: "dev2", deploy: 45.0, test: 18.3, runs: [.good, .good, .good]),
    ]
    summary.totalSeconds = summary.steps.map(\.totalSeconds).reduce(0, +) + 23.5
    summary.descent = DescentSummary(
      merge: summary.merge!, pullRequest: summary.pullRequest, innerCulprit: summary.culprit)
    let culprit = summary.culprit!
    let parent = sampleHash(9)
    summary.confirmation = ConfirmationSummary(
      holds: true,
      tallies: [
        ConfirmationTally(
          hash: culprit.hash, shortHash: culprit.shortHash, subject: culprit.subject, isCulprit: true, bad: 3, good: 0,
          skipped: 0),
        ConfirmationTally(
          hash: parent, shortHash: String(parent.prefix(7)), subject: subjects[parent] ?? "", isCulprit: false, bad: 0,
          good: 3, skipped: 0),
      ])
    return summary
  }
}

/// A made-up but stable 40-digit hash for the sample's commit `key`.
private func sampleHash(_ key: Int) -> String {
  var state = UInt64(key) &* 0x9E37_79B9_7F4A_7C15 &+ 0x2017_0323
  var hex = ""
  while hex.count < 40 {
    state ^= state >> 31
    state = state &* 0xBF58_476D_1CE4_E5B9
    state ^= state >> 29
    hex += String(state, radix: 16).prefix(8).padding(toLength: 8, withPad: "0", startingAt: 0)
  }
  return String(hex.prefix(40))
}
