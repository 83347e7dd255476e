import Foundation
import HuntStore
import Synchronization
import TestSupport
import Testing

@Suite struct LeaseTests {
  /// A claim of this process for `huntID`, with its own token (as a process of its own has).
  func claim(_ huntID: Int64, duration: Duration = .seconds(30), host: String = "build-host") -> LeaseClaim {
    LeaseClaim(
      huntID: huntID, host: host, pid: getpid(), process: ProcessIdentity.current, token: UUID().uuidString,
      duration: duration)
  }

  /// The description of a process that has exited and been reaped, on this machine. It runs
  /// until its start time has been read (a short sleep could end first on a busy machine).
  func deadProcess() throws -> (pid: Int32, identity: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sleep")
    process.arguments = ["300"]
    try process.run()
    defer {
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
    }
    let identity = ProcessIdentity.current.split(separator: "/").dropLast(2).joined(separator: "/")
    let stat = try String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8)
    let start = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")[19]
    return (process.processIdentifier, "\(identity)/\(process.processIdentifier)/\(start)")
  }

  /// Checks `condition` every 50 ms until it holds (true) or a minute has passed (false): a
  /// wait for an event, such as a lease running out on the store's clock.
  func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .seconds(60)
    while ContinuousClock.now < deadline {
      if try await condition() { return true }
      try await Task.sleep(for: .milliseconds(50))
    }
    return false
  }

  @Test(arguments: Backend.allCases)
  func aSecondHuntOnTheEnvironmentIsRefusedWithTheHolderNamed(_ backend: Backend) async throws {
    let store = try await TestState(backend).open()
    let first = claim(try await store.createHunt(sampleHunt()).id)
    let second = claim(try await store.createHunt(sampleHunt()).id)
    #expect(try await store.acquireLeases(["staging"], for: first) == [])
    await #expect {
      _ = try await store.acquireLeases(["staging"], for: second)
    } throws: { error in
      guard let error = error as? StoreError, case .locked("staging", let holder) = error else { return false }
      let message = error.errorDescription ?? ""
      return holder.huntID == first.huntID && holder.token == first.token && message.contains("pid \(getpid())")
        && message.contains("build-host") && message.contains("--wait-for-env")
    }
    // Acquiring again with the same claim renews it; other environments are free.
    #expect(try await store.acquireLeases(["staging"], for: first) == [])
    #expect(try await store.leaseHolder(environment: "staging")?.huntID == first.huntID)
    #expect(try await store.acquireLeases(["prod"], for: second) == [])
    #expect(try await store.activeHunts() == [first.huntID, second.huntID])
  }

  @Test(arguments: Backend.allCases) func aHuntCreatedWithAClaimHoldsItsOwnLease(_ backend: Backend) async throws {
    let store = try await TestState(backend).open()
    let mine = claim(0)
    let hunt = try await store.createHunt(sampleHunt(), leasing: mine)
    #expect(try await store.leaseHolder(environment: huntLeaseName(hunt.id))?.token == mine.token)
    #expect(try await store.activeHunts() == [hunt.id])
    // Another process cannot take it up while this one runs it.
    await #expect(throws: StoreError.self) {
      _ = try await store.acquireLeases([huntLeaseName(hunt.id)], for: claim(hunt.id))
    }
    try await store.releaseLeases([huntLeaseName(hunt.id)], for: mine)
    #expect(try await store.activeHunts().isEmpty)
  }

  @Test(arguments: Backend.allCases) func leasesAreTakenAllOrNothing(_ backend: Backend) async throws {
    let store = try await TestState(backend).open()
    let holder = claim(try await store.createHunt(sampleHunt()).id)
    let other = claim(try await store.createHunt(sampleHunt()).id)
    _ = try await store.acquireLeases(["dev2"], for: holder)
    await #expect(throws: StoreError.self) { _ = try await store.acquireLeases(["dev1", "dev2", "dev3"], for: other) }
    #expect(try await store.leases().map(\.environment) == ["dev2"])
  }

  @Test(arguments: Backend.allCases) func onlyTheHolderRenewsAndReleasesItsLease(_ backend: Backend) async throws {
    let store = try await TestState(backend).open()
    let first = claim(try await store.createHunt(sampleHunt()).id)
    let second = claim(try await store.createHunt(sampleHunt()).id)
    _ = try await store.acquireLeases(["staging", "prod"], for: first)
    let before = try #require(try await store.leaseHolder(environment: "staging"))
    try await Task.sleep(for: .milliseconds(20))
    #expect(try await store.renewLeases(["staging", "prod"], for: first) == ["staging", "prod"])
    let after = try #require(try await store.leaseHolder(environment: "staging"))
    #expect(after.expiresAt > before.expiresAt)
    #expect(after.acquiredAt == before.acquiredAt)
    #expect(try await store.renewLeases(["staging"], for: second).isEmpty)
    try await store.releaseLeases(["staging", "prod"], for: second)
    #expect(try await store.leases().count == 2)
    try await store.releaseLeases(["staging"], for: first)
    #expect(try await store.leases().map(\.environment) == ["prod"])
    _ = try await store.acquireLeases(["staging"], for: second)
  }

  @Test(arguments: Backend.allCases) func aLeaseOfADeadProcessOnThisMachineIsTakenOverAtOnce(_ backend: Backend)
    async throws
  {
    let store = try await TestState(backend).open()
    let dead = try deadProcess()
    #expect(ProcessIdentity.isGone(dead.identity))
    #expect(!ProcessIdentity.isGone(ProcessIdentity.current))
    var killed = claim(try await store.createHunt(sampleHunt()).id)
    killed.pid = dead.pid
    killed.process = dead.identity
    _ = try await store.acquireLeases(["staging"], for: killed)
    let next = claim(try await store.createHunt(sampleHunt()).id)
    let taken = try await store.acquireLeases(["staging"], for: next)
    #expect(taken.map(\.reason) == [.holderGone])
    #expect(taken.first?.previous.huntID == killed.huntID)
    #expect(try await store.leaseHolder(environment: "staging")?.token == next.token)
  }

  @Test(arguments: Backend.allCases) func aLeaseFromElsewhereIsTakenOverOnlyWhenItRunsOut(_ backend: Backend)
    async throws
  {
    let store = try await TestState(backend).open()
    // Another machine's process: its description cannot be checked from here. Its lease of
    // 3 s: the two checks right after it take milliseconds, even on a loaded machine.
    let localHunt = try await store.createHunt(sampleHunt()).id
    var remote = claim(try await store.createHunt(sampleHunt()).id, duration: .seconds(3), host: "other-host")
    remote.process = "another-boot/pid:[1]/4242/1000"
    _ = try await store.acquireLeases(["staging"], for: remote)
    let local = claim(localHunt)
    await #expect(throws: StoreError.self) { _ = try await store.acquireLeases(["staging"], for: local) }
    #expect(try await store.activeHunts() == [remote.huntID])
    try #require(try await eventually { try await store.leases().first?.expired == true }, "the lease never ran out")
    #expect(try await store.activeHunts().isEmpty)
    let taken = try await store.acquireLeases(["staging"], for: local)
    #expect(taken.map(\.reason) == [.expired])
    #expect(taken.first?.previous.host == "other-host")
    // The old holder's next renewal finds it gone.
    #expect(try await store.renewLeases(["staging"], for: remote).isEmpty)
  }

  @Test(arguments: Backend.allCases) func unlockFreesEveryLeaseOfTheHunt(_ backend: Backend) async throws {
    let store = try await TestState(backend).open()
    let hunt = claim(try await store.createHunt(sampleHunt()).id)
    _ = try await store.acquireLeases(["dev1", "dev2"], for: hunt)
    #expect(try await store.breakLease(environment: "dev1")?.huntID == hunt.huntID)
    #expect(try await store.renewLeases(["dev1", "dev2"], for: hunt) == ["dev2"])
    #expect(try await store.breakLeases(ofHunt: hunt.huntID) == ["dev2"])
    #expect(try await store.leases().isEmpty)
  }

  @Test(arguments: Backend.allCases) func aPoolServesItsQueueFirstComeFirstServed(_ backend: Backend) async throws {
    let store = try await TestState(backend).open()
    let pool = ["dev1", "dev2"]
    let first = claim(try await store.createHunt(sampleHunt()).id)
    let second = claim(try await store.createHunt(sampleHunt()).id)
    let third = claim(try await store.createHunt(sampleHunt()).id)
    guard case .granted(let taken, _) = try await store.takeFromPool(pool, wants: 2, for: first) else {
      Issue.record("the first hunt got nothing from an empty pool")
      return
    }
    #expect(taken == ["dev1", "dev2"])
    #expect(
      try await store.takeFromPool(pool, wants: 1, for: second) == .waiting(ahead: 0, holders: try await store.leases())
    )
    guard case .waiting(1, _) = try await store.takeFromPool(pool.reversed(), wants: 1, for: third) else {
      Issue.record("the third hunt is not behind the second")
      return
    }
    #expect(try await store.activeHunts() == [first.huntID, second.huntID, third.huntID])
    try await store.releaseLeases(["dev2"], for: first)
    // Only the first in line gets the free one, whoever asks first.
    guard case .waiting(1, _) = try await store.takeFromPool(pool, wants: 1, for: third) else {
      Issue.record("the third hunt jumped the queue")
      return
    }
    #expect(try await store.takeFromPool(pool, wants: 1, for: second) == .granted(["dev2"], takenOver: []))
    guard case .waiting(0, _) = try await store.takeFromPool(pool, wants: 1, for: third) else {
      Issue.record("the third hunt is not first now")
      return
    }
    try await store.leavePool(pool, for: third)
    #expect(try await store.activeHunts() == [first.huntID, second.huntID])
  }

  @Test(arguments: Backend.allCases) func aPlaceWhoseHuntStoppedWaitingIsDropped(_ backend: Backend) async throws {
    let store = try await TestState(backend).open()
    let pool = ["dev1"]
    let holder = claim(try await store.createHunt(sampleHunt()).id)
    _ = try await store.takeFromPool(pool, wants: 1, for: holder)
    let nextHunt = try await store.createHunt(sampleHunt()).id
    let gone = claim(try await store.createHunt(sampleHunt()).id, duration: .seconds(3))
    _ = try await store.takeFromPool(pool, wants: 1, for: gone)
    let next = claim(nextHunt)
    guard case .waiting(1, _) = try await store.takeFromPool(pool, wants: 1, for: next) else {
      Issue.record("the next hunt is not behind the one that stops waiting")
      return
    }
    // Once the place of 3 s runs out, the next hunt is first (each ask renews its own place).
    let first = try await eventually {
      guard case .waiting(0, _) = try await store.takeFromPool(pool, wants: 1, for: next) else { return false }
      return true
    }
    #expect(first, "a place nobody refreshed still waits")
  }

  @Test(arguments: Backend.allCases) func twoProcessesRacingForALeaseCannotBothWin(_ backend: Backend) async throws {
    let state = try TestState(backend)
    let stores = [try await state.open(), try await state.open()]
    let hunts = [try await stores[0].createHunt(sampleHunt()).id, try await stores[1].createHunt(sampleHunt()).id]
    for round in 0..<15 {
      let environment = "env-\(round)"
      let claims = hunts.map { claim($0) }
      let winners = try await withThrowingTaskGroup(of: Int?.self) { group in
        for index in 0..<2 {
          group.addTask {
            do {
              _ = try await stores[index].acquireLeases([environment], for: claims[index])
              return index
            } catch {
              guard let refusal = error as? StoreError, case .locked(let name, let holder) = refusal else {
                throw error
              }
              #expect(name == environment)
              #expect(holder.huntID == hunts[1 - index])
              return nil
            }
          }
        }
        var winners = [Int]()
        for try await winner in group { if let winner { winners.append(winner) } }
        return winners
      }
      try #require(winners.count == 1, "round \(round): \(winners)")
      #expect(try await stores[0].leaseHolder(environment: environment)?.token == claims[winners[0]].token)
    }
  }
}
