import Foundation
import HuntStore
import Synchronization
import Testing

@Suite struct LockTests {
  let host = "build-host"

  @Test func aSecondHuntOnTheEnvironmentIsRefusedWithTheHolderNamed() throws {
    let store = try StoreFolder().open()
    let first = try store.createHunt(sampleHunt())
    let second = try store.createHunt(sampleHunt())
    #expect(try store.acquireLock(environment: "staging", huntID: first.id, host: host, at: date(7)) == nil)
    let holder = LockHolder(pid: getpid(), host: host, startedAt: date(7), huntID: first.id)
    #expect(throws: StoreError.locked(environment: "staging", holder: holder)) {
      try store.acquireLock(environment: "staging", huntID: second.id, host: host)
    }
    let message = StoreError.locked(environment: "staging", holder: holder).errorDescription ?? ""
    #expect(message.contains("pid \(getpid())"))
    #expect(message.contains(host))
    #expect(message.contains("2023-11-14T22:13:27Z"))
    // Acquiring again for the same hunt and process changes nothing; other environments are free.
    #expect(try store.acquireLock(environment: "staging", huntID: first.id, host: host) == nil)
    #expect(try store.lockHolder(environment: "staging") == holder)
    try store.acquireLock(environment: "prod", huntID: second.id, host: host)
  }

  @Test func onlyTheHolderReleasesItsLock() throws {
    let store = try StoreFolder().open()
    let first = try store.createHunt(sampleHunt())
    let second = try store.createHunt(sampleHunt())
    try store.acquireLock(environment: "staging", huntID: first.id, host: host)
    #expect(try store.releaseLock(environment: "staging", huntID: second.id) == false)
    #expect(try store.lockHolder(environment: "staging")?.huntID == first.id)
    #expect(try store.releaseLock(environment: "staging", huntID: first.id))
    #expect(try store.lockHolder(environment: "staging") == nil)
    try store.acquireLock(environment: "staging", huntID: second.id, host: host)
  }

  /// The id of a process that has exited and been reaped.
  func deadPID() throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/true")
    try process.run()
    process.waitUntilExit()
    return process.processIdentifier
  }

  @Test func aLockOfADeadProcessOnThisHostIsTakenOver() throws {
    let store = try StoreFolder().open()
    let dead = try store.createHunt(sampleHunt())
    let next = try store.createHunt(sampleHunt())
    let pid = try deadPID()
    try #require(!StateStore.isProcessAlive(pid))
    try store.acquireLock(environment: "staging", huntID: dead.id, pid: pid, host: host, at: date(3))
    let replaced = try store.acquireLock(environment: "staging", huntID: next.id, host: host)
    #expect(replaced == LockHolder(pid: pid, host: host, startedAt: date(3), huntID: dead.id))
    #expect(try store.lockHolder(environment: "staging")?.huntID == next.id)
  }

  @Test func aLockFromAnotherHostIsNeverTakenOver() throws {
    let store = try StoreFolder().open()
    let remote = try store.createHunt(sampleHunt())
    let local = try store.createHunt(sampleHunt())
    try store.acquireLock(environment: "staging", huntID: remote.id, pid: try deadPID(), host: "other-host")
    #expect {
      try store.acquireLock(environment: "staging", huntID: local.id, host: host)
    } throws: { error in
      guard let error = error as? StoreError, case .locked(_, let holder) = error else { return false }
      return holder.huntID == remote.id && holder.host == "other-host"
    }
    #expect(try store.breakLock(environment: "staging")?.huntID == remote.id)
    try store.acquireLock(environment: "staging", huntID: local.id, host: host)
  }

  @Test func aLockedEnvironmentStoresNoNewHunt() throws {
    let store = try StoreFolder().open()
    let (first, stale) = try store.createLockedHunt(sampleHunt(), host: host)
    #expect(stale == nil)
    #expect {
      try store.createLockedHunt(sampleHunt(), host: host)
    } throws: { error in
      guard let error = error as? StoreError, case .locked(_, let holder) = error else { return false }
      return holder.huntID == first.id
    }
    #expect(try store.hunts(limit: 10).map(\.id) == [first.id])
  }

  @Test func twoProcessesRacingForALockCannotBothWin() throws {
    let folder = try StoreFolder()
    let stores = [try folder.open(), try folder.open()]
    let hunts = [try stores[0].createHunt(sampleHunt()), try stores[1].createHunt(sampleHunt())]
    for round in 0..<25 {
      let environment = "env-\(round)"
      let outcomes = Mutex<[Int: Result<LockHolder?, StoreError>]>([:])
      DispatchQueue.concurrentPerform(iterations: 2) { index in
        let outcome = Result { () throws(StoreError) -> LockHolder? in
          try stores[index].acquireLock(environment: environment, huntID: hunts[index].id, host: host)
        }
        outcomes.withLock { $0[index] = outcome }
      }
      let results = outcomes.withLock { $0 }
      let winners = results.filter { if case .success = $0.value { true } else { false } }.map(\.key)
      try #require(winners.count == 1, "round \(round): \(results)")
      let loser = 1 - winners[0]
      guard case .failure(.locked(let name, let holder)) = results[loser] else {
        Issue.record("round \(round): the loser got \(String(describing: results[loser]))")
        continue
      }
      #expect(name == environment)
      #expect(holder.huntID == hunts[winners[0]].id)
      #expect(try stores[0].lockHolder(environment: environment)?.huntID == hunts[winners[0]].id)
    }
  }
}
