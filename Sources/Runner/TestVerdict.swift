/// What a smoke test's outcome says about the candidate commit, following the protocol of
/// `git bisect run`.
public enum TestVerdict: Sendable, Hashable, CaseIterable {
  /// Exit status 0: the commit is good.
  case good
  /// Exit status 1–127 except 125: the commit is bad.
  case bad
  /// Exit status 125: the commit cannot be tested; try another.
  case skip
  /// Exit status above 127, death by a signal, or cancellation: stop the hunt.
  case abort

  /// The verdict for a test that exited with `status`, as `git bisect run` reads it.
  /// Statuses outside 0–255 (which `waitpid` cannot report) abort.
  public init(exitStatus status: Int32) {
    switch status {
    case 0: self = .good
    case 125: self = .skip
    case 1...127: self = .bad
    default: self = .abort
    }
  }

  /// The verdict for a test that ended with `termination`; `timeoutPolicy` decides what
  /// a timed-out test means, which `git bisect run` leaves open.
  ///
  /// A shell killed by a signal aborts, as `git bisect run` does (a child of the shell
  /// killed by signal N makes the shell exit with 128 + N, which aborts too). A cancelled
  /// test aborts: the hunt was interrupted.
  public init(_ termination: CommandResult.Termination, timeoutPolicy: TimeoutPolicy) {
    switch termination {
    case .exited(let status): self.init(exitStatus: status)
    case .signalled, .cancelled: self = .abort
    case .timedOut:
      switch timeoutPolicy {
      case .bad: self = .bad
      case .skip: self = .skip
      case .abort: self = .abort
      }
    }
  }
}

/// What a smoke test that ran out of time means.
public enum TimeoutPolicy: String, Sendable, Hashable, CaseIterable {
  /// The commit is bad: a hang is the regression being hunted.
  case bad
  /// The commit cannot be judged (for example the environment was slow); skip it.
  case skip
  /// Stop the hunt: a timeout means the setup is broken.
  case abort
}
