import Foundation
import Runner
import Testing

#if canImport(Glibc)
  import Glibc
#endif

@Suite("Trapping SIGINT and SIGTERM")
struct SignalTrapTests {
  @Test("signals map to the CLI's exit statuses")
  func exitStatuses() {
    #expect(SignalTrap.Signal.interrupt.exitStatus == 130)
    #expect(SignalTrap.Signal.terminate.exitStatus == 143)
    #expect(SignalTrap.Signal.interrupt.rawValue == SIGINT)
    #expect(SignalTrap.Signal.terminate.rawValue == SIGTERM)
  }

  #if os(Linux)
    @Test("real SIGTERM and SIGINT sent to this process arrive on the stream, trap after trap")
    func realSignalsArrive() async throws {
      for _ in 0..<2 {
        let trap = SignalTrap()
        // Never send a signal whose default action would end the test run.
        try #require(!hasDefaultAction(SIGTERM) && !hasDefaultAction(SIGINT))
        // A watchdog: if a signal never arrives, stopping ends the stream and the test fails.
        let watchdog = Task {
          try await Task.sleep(for: .seconds(10))
          trap.stop()
        }
        defer { watchdog.cancel() }
        var arrivals = trap.signals.makeAsyncIterator()
        kill(getpid(), SIGTERM)
        try #require(await arrivals.next() == .terminate)
        kill(getpid(), SIGINT)
        try #require(await arrivals.next() == .interrupt)
        trap.stop()
        #expect(await arrivals.next() == nil)
        #expect(hasDefaultAction(SIGTERM) && hasDefaultAction(SIGINT))
      }
    }

    private func hasDefaultAction(_ signal: Int32) -> Bool {
      var current = sigaction()
      sigaction(signal, nil, &current)
      return current.__sigaction_handler.sa_handler == nil
    }
  #endif
}
