import Runner
import Testing

@Suite("Reading a smoke test's outcome")
struct VerdictTests {
  @Test(
    "exit statuses follow git bisect run",
    arguments: [
      (0, TestVerdict.good), (1, .bad), (2, .bad), (124, .bad), (125, .skip), (126, .bad),
      (127, .bad), (128, .abort), (129, .abort), (255, .abort), (-1, .abort), (256, .abort),
    ] as [(Int32, TestVerdict)])
  func exitStatus(status: Int32, verdict: TestVerdict) {
    #expect(TestVerdict(exitStatus: status) == verdict)
    #expect(TestVerdict(.exited(status), timeoutPolicy: .skip) == verdict)
  }

  @Test("a test killed by a signal or cancelled aborts", arguments: TimeoutPolicy.allCases)
  func signalAndCancellationAbort(policy: TimeoutPolicy) {
    #expect(TestVerdict(.signalled(9), timeoutPolicy: policy) == .abort)
    #expect(TestVerdict(.signalled(15), timeoutPolicy: policy) == .abort)
    #expect(TestVerdict(.cancelled, timeoutPolicy: policy) == .abort)
  }

  @Test("a timed-out test follows the caller's policy")
  func timeoutFollowsPolicy() {
    #expect(TestVerdict(.timedOut, timeoutPolicy: .bad) == .bad)
    #expect(TestVerdict(.timedOut, timeoutPolicy: .skip) == .skip)
    #expect(TestVerdict(.timedOut, timeoutPolicy: .abort) == .abort)
  }
}
