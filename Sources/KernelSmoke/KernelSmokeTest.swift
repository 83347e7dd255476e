import Foundation
import NIOHTTP1
import Synchronization

/// The kernel smoke test: what a new user of a JupyterHub does, through the hub's public
/// REST API. It checks that the hub answers, starts the user's server (stopping one left
/// running from before the deploy), follows the spawn's progress, creates a kernel, opens
/// its channels over a WebSocket, asks kernel_info, runs the code, compares the result,
/// then deletes the kernel and stops the server.
///
/// A value: `run` may be called from any task, once or several times.
public struct KernelSmokeTest: Sendable {
  public let settings: KernelSmokeSettings

  /// Each request to the hub or the user's server gets this long to answer.
  static let requestTimeout = Duration.seconds(15)
  /// How long cleanup waits for the server to stop.
  static let stopTimeout = Duration.seconds(45)

  public init(settings: KernelSmokeSettings) {
    self.settings = settings
  }

  /// Runs the test and returns its verdict. `progress` gets a line for people at each step;
  /// no line holds the token. When the calling task is cancelled (SIGTERM), the run stops,
  /// deletes what it made without waiting for the server to stop, and reports a bad verdict
  /// saying so: the caller decides the exit status.
  public func run(progress: @escaping @Sendable (String) -> Void) async -> KernelSmokeReport {
    let say: @Sendable (String) -> Void = { [token = settings.token] in progress(token.redact($0)) }
    let clock = ContinuousClock()
    let started = clock.now
    let state = RunState()
    var report = KernelSmokeReport(
      verdict: .bad, reason: "", hub: settings.hub.description, kernel: settings.kernel, code: settings.code,
      expected: settings.expected, seconds: [:], totalSeconds: 0, cleanupNotes: [])
    let hub = HubConnection(address: settings.hub, token: settings.token)
    var phase = Phase.hub
    var phaseStarted = clock.now
    func finishPhase() {
      report.seconds[phase] = (clock.now - phaseStarted).seconds
    }
    do {
      let version = try await checkHub(hub)
      report.hubVersion = version
      let user = try await resolveUser(hub)
      report.user = user
      finishPhase()
      say("hub \(version) answers at \(settings.hub) (\(KernelSmokeReport.format(report.seconds[.hub] ?? 0)) s)")

      phase = .server
      phaseStarted = clock.now
      state.update { $0.user = user }
      let server = try await startServer(hub, user: user, state: state, say: say)
      finishPhase()
      state.update { $0.serverPath = server }
      say("server ready at \(server) (\(KernelSmokeReport.format(report.seconds[.server] ?? 0)) s)")

      phase = .kernel
      phaseStarted = clock.now
      let kernel = try await startKernel(hub, server: server, state: state, say: say)
      finishPhase()
      say("kernel ready: \(kernel) (\(KernelSmokeReport.format(report.seconds[.kernel] ?? 0)) s)")

      phase = .execute
      phaseStarted = clock.now
      let outcome = try await execute(hub, server: server, state: state)
      finishPhase()
      report.result = outcome.shown
      report.reason = try judge(outcome)
      report.verdict = .good
    } catch let failure as SmokeFailure {
      finishPhase()
      report.failedPhase = failure.phase
      report.reason = failure.reason
    } catch let misconfigured as KernelSmokeError {
      finishPhase()
      report.verdict = .misconfigured
      report.reason = misconfigured.errorDescription ?? "\(misconfigured)"
    } catch is CancellationError {
      finishPhase()
      report.failedPhase = phase
      report.reason = "stopped during the \(phase.rawValue) phase, before a verdict"
    } catch {
      finishPhase()
      report.failedPhase = phase
      report.reason = "\(phase.rawValue): \(error)"
    }
    report.reason = settings.token.redact(report.reason)
    report.totalSeconds = (clock.now - started).seconds

    // Cleanup runs in a task of its own: a cancelled run still deletes what it made.
    let cleanupStarted = clock.now
    let hurry = Task.isCancelled
    let notes = await Task { await cleanUp(hub, state: state, hurry: hurry, say: say) }.value
    report.cleanupNotes = notes.map(settings.token.redact)
    if state.read({ $0.serverRequested || $0.kernelPath != nil }) {
      report.seconds[.cleanup] = (clock.now - cleanupStarted).seconds
    }
    return report
  }

  // MARK: - Hub

  /// `GET /hub/api/` without the token: the hub answers and says its version.
  func checkHub(_ hub: HubConnection) async throws -> String {
    let url = settings.hub.hubURL("hub/api/")
    let answer: HubAnswer
    do {
      answer = try await hub.send(.GET, url, authorized: false, timeout: Self.requestTimeout)
    } catch let unreachable as HubConnection.Unreachable {
      throw SmokeFailure(.hub, "the hub is down: \(url) gave no answer (\(unreachable.description))")
    }
    struct Info: Decodable { var version: String }
    if (300..<400).contains(answer.status), let location = answer.location {
      // http:// to https://, or a base URL left out: the address to give is the one it names.
      throw KernelSmokeError.invalidHub(
        shown: settings.hub.description,
        reason:
          "GET \(url) redirects (HTTP \(answer.status)) to \(HubAddress.withoutSecrets(location)); give the hub's address without a redirect"
      )
    }
    guard answer.status == 200 else {
      throw SmokeFailure(.hub, "the hub is down: GET \(url) answered HTTP \(answer.status) (\(answer.message))")
    }
    guard let info = answer.decoded(Info.self) else {
      throw SmokeFailure(.hub, "no JupyterHub at \(settings.hub): GET \(url) answered 200 without a version")
    }
    return HubAnswer.oneLine(info.version, limit: 40)
  }

  /// `GET /hub/api/user` with the token: it is accepted, and whose it is. The test's user is
  /// `--user`, else the token's own user.
  func resolveUser(_ hub: HubConnection) async throws -> String {
    let path = "hub/api/user"
    let answer = try await call(hub, .GET, settings.hub.hubURL(path), phase: .hub)
    struct Owner: Decodable {
      var kind: String?
      var name: String?
    }
    switch answer.status {
    case 200: break
    case 401, 403:
      throw KernelSmokeError.tokenRefused(
        variable: settings.token.variable, status: answer.status, request: "GET /\(path)")
    default:
      throw SmokeFailure(.hub, "GET /\(path) answered HTTP \(answer.status) (\(answer.message))")
    }
    if let user = settings.user { return user }
    let owner = answer.decoded(Owner.self)
    if owner?.kind == "user", let name = owner?.name { return name }
    throw KernelSmokeError.userRequired(service: owner?.name ?? "?")
  }

  /// One request; no answer at all is a bad verdict in `phase`, naming the request.
  func call(_ hub: HubConnection, _ method: HTTPMethod, _ url: String, json: String? = nil, phase: Phase)
    async throws -> HubAnswer
  {
    do {
      let answer = try await hub.send(method, url, json: json, timeout: Self.requestTimeout)
      return answer
    } catch let unreachable as HubConnection.Unreachable {
      let who = phase == .hub || phase == .server ? "the hub" : "the user's server (through the hub's proxy)"
      throw SmokeFailure(phase, "\(who) gave no answer to \(method) \(Self.path(of: url)): \(unreachable.description)")
    }
  }

  /// An answer `request` should not get: 401 or 403 means the token lacks `scopes`
  /// (misconfigured), anything else is a bad verdict in `phase`.
  func refused(_ answer: HubAnswer, _ request: String, action: String, scopes: String, phase: Phase) -> any Error {
    if answer.status == 401 || answer.status == 403 {
      return KernelSmokeError.notAllowed(action: action, status: answer.status, request: request, scopes: scopes)
    }
    return SmokeFailure(
      phase, "\(request) answered HTTP \(answer.status) (\(answer.message)): the hub would not \(action)")
  }

  /// The path of an absolute URL, for messages.
  static func path(of url: String) -> String {
    guard let components = URLComponents(string: url) else { return url }
    return components.percentEncodedPath
  }

  // MARK: - Server

  /// The parts of JupyterHub's user model the test reads.
  struct UserModel: Decodable {
    var name: String?
    /// The default server's URL path when it runs (`/user/NAME/`).
    var server: String?
    /// `spawn`, `stop` or nil.
    var pending: String?
  }

  /// Makes sure `user`'s default server runs one of this deploy, within the spawn timeout;
  /// returns its URL path.
  func startServer(_ hub: HubConnection, user: String, state: RunState, say: @escaping @Sendable (String) -> Void)
    async throws -> String
  {
    let limit = settings.spawnTimeout
    do {
      let path = try await within(limit) { try await self.spawn(hub, user: user, state: state, say: say) }
      return path
    } catch is TimedOut {
      let last = state.read { $0.lastProgress }.map { "; last progress: \($0)" } ?? ""
      throw SmokeFailure(
        .server, "\(user)'s server did not start within \(Self.seconds(limit)) s (--spawn-timeout)\(last)")
    }
  }

  func userURL(_ user: String, _ rest: String = "") -> String {
    settings.hub.hubURL("hub/api/users/\(Self.escape(user))\(rest)")
  }

  /// The user model, creating the user when the hub has none by that name and the token
  /// may create users.
  func userModel(_ hub: HubConnection, user: String, create: Bool) async throws -> UserModel {
    let answer = try await call(hub, .GET, userURL(user), phase: .server)
    switch answer.status {
    case 200:
      guard let model = answer.decoded(UserModel.self) else {
        throw SmokeFailure(.server, "GET /hub/api/users/\(user) answered 200 without a user model")
      }
      return model
    case 404 where create:
      let made = try await call(hub, .POST, userURL(user), phase: .server)
      guard made.status == 201 || made.status == 409 else {
        throw KernelSmokeError.unknownUser(user, status: made.status)
      }
      let model = try await userModel(hub, user: user, create: false)
      return model
    default:
      throw refused(
        answer, "GET /hub/api/users/\(user)", action: "read \(user)'s server", scopes: "servers", phase: .server)
    }
  }

  func spawn(_ hub: HubConnection, user: String, state: RunState, say: @escaping @Sendable (String) -> Void)
    async throws -> String
  {
    let model = try await userModel(hub, user: user, create: true)
    if model.server != nil || model.pending != nil {
      // A server started before this deploy may run the old configuration.
      let what = model.pending.map { "pending \($0)" } ?? "running"
      say("\(user)'s server is \(what): stopping it, so that the test starts one of this deploy")
      try await stopServer(hub, user: user, wait: true)
    }
    say("starting \(user)'s server")
    state.update { $0.serverRequested = true }
    let answer = try await call(hub, .POST, userURL(user, "/server"), json: "{}", phase: .server)
    switch answer.status {
    case 201:
      let ready = try await userModel(hub, user: user, create: false)
      return ready.server ?? "/user/\(Self.escape(user))/"
    case 202, 400, 500...599:
      // 202: pending. 400: a race with another start. 5xx: a spawn that failed, or (JupyterHub
      // 6.1.1, when the server process exits during its start) a bare 500 while the spawn is
      // still pending: either way the progress stream says how it ended.
      let path = try await followSpawn(hub, user: user, first: answer, state: state, say: say)
      return path
    default:
      throw refused(
        answer, "POST /hub/api/users/\(user)/server", action: "start \(user)'s server", scopes: "servers",
        phase: .server)
    }
  }

  /// Follows `/hub/api/users/NAME/server/progress` until the server is ready or failed.
  func followSpawn(
    _ hub: HubConnection, user: String, first: HubAnswer, state: RunState, say: @escaping @Sendable (String) -> Void
  ) async throws -> String {
    struct ProgressEvent: Decodable {
      var progress: Double?
      var message: String?
      var ready: Bool?
      var failed: Bool?
      var url: String?
    }
    while true {
      var readyURL: String?
      var failure: String?
      let status: Int
      do {
        status = try await hub.follow(userURL(user, "/server/progress"), timeout: settings.spawnTimeout) { data in
          guard let event = try? JSONDecoder().decode(ProgressEvent.self, from: data) else { return true }
          let message = HubAnswer.oneLine(event.message ?? "", limit: 200)
          if event.failed == true {
            failure = message.isEmpty ? "Spawn failed" : message
            return false
          }
          if event.ready == true {
            readyURL = event.url ?? ""
            return false
          }
          let percent = event.progress.map { "\(Int($0))% " } ?? ""
          state.update { $0.lastProgress = "\(percent)\(message)" }
          say("spawn: \(percent)\(message)")
          return true
        }
      } catch let unreachable as HubConnection.Unreachable {
        throw SmokeFailure(
          .server, "the hub stopped answering while \(user)'s server started: \(unreachable.description)")
      }
      if let failure {
        let first = first.status >= 500 ? " (the start request answered HTTP \(first.status))" : ""
        throw SmokeFailure(.server, "\(user)'s server failed to start: \(failure)\(first)")
      }
      if let readyURL {
        let model = try await userModel(hub, user: user, create: false)
        return model.server ?? (readyURL.isEmpty ? "/user/\(Self.escape(user))/" : readyURL)
      }
      if status == 401 || status == 403 {
        throw refused(
          HubAnswer(status: status, body: Data()), "GET /hub/api/users/\(user)/server/progress",
          action: "follow \(user)'s spawn", scopes: "servers", phase: .server)
      }
      // The stream ended without saying: ask the user model.
      let model = try await userModel(hub, user: user, create: false)
      if let server = model.server, model.pending == nil { return server }
      if model.pending == nil {
        throw SmokeFailure(
          .server,
          "\(user)'s server failed to start: the hub answered HTTP \(first.status) (\(first.message)) and no server runs"
        )
      }
      try await Task.sleep(for: .milliseconds(500))
    }
  }

  /// Asks the hub to stop the user's server; with `wait`, until it has stopped.
  func stopServer(_ hub: HubConnection, user: String, wait: Bool, limit: Duration = stopTimeout) async throws {
    let answer = try await call(hub, .DELETE, userURL(user, "/server"), phase: .server)
    guard answer.status == 202 || answer.status == 204 else {
      throw refused(
        answer, "DELETE /hub/api/users/\(user)/server", action: "stop \(user)'s server", scopes: "servers",
        phase: .server)
    }
    guard wait, answer.status == 202 else { return }
    do {
      try await within(limit) {
        while true {
          let model = try await self.userModel(hub, user: user, create: false)
          if model.server == nil && model.pending == nil { return }
          try await Task.sleep(for: .milliseconds(250))
        }
      }
    } catch is TimedOut {
      throw SmokeFailure(.server, "\(user)'s server did not stop within \(Self.seconds(limit)) s")
    }
  }

  // MARK: - Kernel

  /// The parts of jupyter-server's kernel model the test reads.
  struct KernelModel: Decodable {
    var id: String?
    /// starting, idle, busy, dead...
    var executionState: String?

    enum CodingKeys: String, CodingKey {
      case id
      case executionState = "execution_state"
    }
  }

  /// Creates a kernel, opens its channels and waits for its kernel_info reply, within the
  /// kernel timeout. Returns a description of the kernel ("ipykernel, python 3.11.7").
  func startKernel(_ hub: HubConnection, server: String, state: RunState, say: @escaping @Sendable (String) -> Void)
    async throws -> String
  {
    let kernelsURL = settings.hub.url(absolutePath: server + "api/kernels")
    let body = JSONValue.object(["name": .string(settings.kernel)])
    let encoded = String(decoding: try JSONEncoder().encode(body), as: UTF8.self)
    let answer = try await call(hub, .POST, kernelsURL, json: encoded, phase: .kernel)
    switch answer.status {
    case 201, 200: break
    case 401, 403:
      throw refused(
        answer, "POST \(server)api/kernels", action: "use the user's server", scopes: "access:servers", phase: .kernel)
    default:
      let known = await kernelspecNames(hub, server: server)
      let hint =
        known.map { names in
          names.contains(settings.kernel)
            ? ""
            : "; the server has no kernelspec '\(settings.kernel)' (it has: \(names.sorted().joined(separator: ", ")))"
        } ?? ""
      throw SmokeFailure(
        .kernel,
        "the server would not start a '\(settings.kernel)' kernel: HTTP \(answer.status) (\(answer.message))\(hint)")
    }
    guard let model = answer.decoded(KernelModel.self), let id = model.id, !id.isEmpty else {
      throw SmokeFailure(.kernel, "POST \(server)api/kernels answered \(answer.status) without a kernel id")
    }
    let kernelPath = server + "api/kernels/" + Self.escape(id)
    let session = UUID().uuidString.lowercased()
    let channels = KernelChannels(
      hub: settings.hub, path: kernelPath + "/channels?session_id=\(session)", token: settings.token)
    state.update {
      $0.kernelPath = kernelPath
      $0.channels = channels
      $0.session = session
    }
    say("kernel \(id) (\(settings.kernel)) created; opening its channels")
    let limit = settings.kernelTimeout
    do {
      let info = try await within(limit) {
        try await self.watching(hub, kernelPath: kernelPath, state: state) {
          try await Self.kernelInfo(channels: channels, session: session)
        }
      }
      return info
    } catch is TimedOut {
      throw await kernelTrouble(
        hub, kernelPath: kernelPath, state: state,
        "the kernel did not answer kernel_info within \(Self.seconds(limit)) s (--kernel-timeout)")
    } catch let failure as SmokeFailure where failure.phase == .kernel {
      throw await kernelTrouble(hub, kernelPath: kernelPath, state: state, failure.reason)
    }
  }

  /// The kernelspec names the user's server offers, or nil when it does not say.
  func kernelspecNames(_ hub: HubConnection, server: String) async -> [String]? {
    struct Specs: Decodable { var kernelspecs: [String: JSONValue] }
    guard
      let answer = try? await hub.send(
        .GET, settings.hub.url(absolutePath: server + "api/kernelspecs"), timeout: Self.requestTimeout),
      answer.status == 200, let specs = answer.decoded(Specs.self)
    else { return nil }
    return Array(specs.kernelspecs.keys)
  }

  /// `reason`, completed with what the server now says of the kernel: a kernel that died at
  /// start is restarted a few times, shows `starting` all along, then is removed.
  func kernelTrouble(_ hub: HubConnection, kernelPath: String, state: RunState, _ reason: String) async -> SmokeFailure
  {
    if state.read({ $0.kernelGone }) { return SmokeFailure(.kernel, reason) }
    let answer = try? await hub.send(
      .GET, settings.hub.url(absolutePath: kernelPath), timeout: .seconds(5))
    guard let answer else { return SmokeFailure(.kernel, reason) }
    if answer.status == 404 {
      return SmokeFailure(
        .kernel, "the kernel died before replying: \(reason); the server no longer lists it (it gave up restarting it)")
    }
    if let shown = answer.decoded(KernelModel.self)?.executionState {
      let note =
        shown == "starting"
        ? " (a kernel that dies at start looks like this: the server restarts it, then removes it)" : ""
      return SmokeFailure(.kernel, "\(reason); the server shows the kernel '\(shown)'\(note)")
    }
    return SmokeFailure(.kernel, reason)
  }

  /// Runs `body` while another task asks the server about the kernel every half second:
  /// a kernel the server has removed, or reports dead, ends the wait at once.
  func watching<T: Sendable>(
    _ hub: HubConnection, kernelPath: String, state: RunState, _ body: @escaping @Sendable () async throws -> T
  ) async throws -> T {
    let url = settings.hub.url(absolutePath: kernelPath)
    let started = ContinuousClock.now
    let outcome = try await withThrowingTaskGroup(of: T?.self) { group in
      group.addTask {
        let value = try await body()
        return value
      }
      group.addTask {
        while true {
          try await Task.sleep(for: .milliseconds(500))
          let answer: HubAnswer
          do {
            answer = try await hub.send(.GET, url, timeout: .seconds(5))
          } catch is HubConnection.Unreachable {
            continue  // the body's own requests say more
          }
          let after = "after \(KernelSmokeReport.format((ContinuousClock.now - started).seconds)) s"
          if answer.status == 404, answer.message.contains("Kernel does not exist") {
            state.update { $0.kernelGone = true }
            throw SmokeFailure(
              .kernel,
              "the kernel died: the server restarted it, gave up and removed it (\(after); it never answered)")
          }
          if answer.decoded(KernelModel.self)?.executionState == "dead" {
            throw SmokeFailure(.kernel, "the kernel died: the server reports it dead (\(after))")
          }
        }
      }
      defer { group.cancelAll() }
      let first = try await group.next()
      guard let finished = first, let value = finished else { throw CancellationError() }
      return value
    }
    return outcome
  }

  /// Waits for the WebSocket to open, sends kernel_info_request and waits for the reply.
  static func kernelInfo(channels: KernelChannels, session: String) async throws -> String {
    let request = UUID().uuidString.lowercased()
    var sent = false
    while let event = await channels.next() {
      switch event {
      case .opened:
        channels.send(JupyterMessage.request(type: "kernel_info_request", id: request, session: session, content: [:]))
        sent = true
      case .ended(let reason):
        throw SmokeFailure(.kernel, reason ?? "the kernel's channels closed before kernel_info was answered")
      case .message(let data):
        guard sent, let message = try? JSONDecoder().decode(JupyterMessage.self, from: data) else { continue }
        if let died = died(message) { throw SmokeFailure(.kernel, "the kernel died before replying (status: \(died))") }
        guard message.type == "kernel_info_reply", message.parentID == request else { continue }
        let implementation = message.content.implementation ?? "kernel"
        let language = message.content.languageInfo.map { "\($0.name ?? "?") \($0.version ?? "")" } ?? ""
        return language.isEmpty ? implementation : "\(implementation), \(language.trimmingCharacters(in: .whitespaces))"
      }
    }
    throw CancellationError()
  }

  /// The state of a status message that says the kernel died, if it is one.
  static func died(_ message: JupyterMessage) -> String? {
    guard message.type == "status", let state = message.content.executionState else { return nil }
    return ["restarting", "dead", "autorestarting"].contains(state) ? state : nil
  }

  // MARK: - Execute

  /// What running the code gave.
  struct Outcome: Sendable {
    var result: String?
    var stdout = ""
    var stderr = ""
    var error: String?
    var replyStatus: String?

    /// What came back, for the report: the result, else the printed output.
    var shown: String? {
      if let result { return result }
      let printed = stdout.hasSuffix("\n") ? String(stdout.dropLast()) : stdout
      return printed.isEmpty ? nil : printed
    }
  }

  func execute(_ hub: HubConnection, server: String, state: RunState) async throws -> Outcome {
    guard let channels = state.read({ $0.channels }), let session = state.read({ $0.session }),
      let kernelPath = state.read({ $0.kernelPath })
    else { throw SmokeFailure(.execute, "no kernel to run the code on") }
    let code = settings.code
    let limit = settings.kernelTimeout
    do {
      let outcome = try await within(limit) {
        try await self.watching(hub, kernelPath: kernelPath, state: state) {
          try await Self.run(code, channels: channels, session: session)
        }
      }
      return outcome
    } catch is TimedOut {
      throw SmokeFailure(
        .execute, "\(Self.shown(code)) did not finish within \(Self.seconds(limit)) s (--kernel-timeout)")
    } catch let failure as SmokeFailure {
      throw SmokeFailure(.execute, failure.reason)
    }
  }

  /// Sends execute_request and collects the output until the kernel is idle again and has
  /// replied (the reply may come before the result).
  static func run(_ code: String, channels: KernelChannels, session: String) async throws -> Outcome {
    let request = UUID().uuidString.lowercased()
    channels.send(
      JupyterMessage.request(
        type: "execute_request", id: request, session: session,
        content: [
          "code": .string(code), "silent": .bool(false), "store_history": .bool(false),
          "user_expressions": .object([:]), "allow_stdin": .bool(false), "stop_on_error": .bool(true),
        ]))
    var outcome = Outcome()
    var idle = false
    while let event = await channels.next() {
      switch event {
      case .opened: continue
      case .ended(let reason):
        throw SmokeFailure(.execute, "\(reason ?? "the kernel's channels closed") while running \(shown(code))")
      case .message(let data):
        guard let message = try? JSONDecoder().decode(JupyterMessage.self, from: data) else { continue }
        if let died = died(message) {
          throw SmokeFailure(.execute, "the kernel died while running \(shown(code)) (status: \(died))")
        }
        guard message.parentID == request else { continue }
        let content = message.content
        switch message.type {
        case "execute_result": outcome.result = content.plainText
        case "stream" where content.name == "stderr": outcome.stderr += content.text ?? ""
        case "stream": outcome.stdout += content.text ?? ""
        case "error": outcome.error = "\(content.ename ?? "error"): \(content.evalue ?? "")"
        case "execute_reply":
          outcome.replyStatus = content.status ?? "?"
          if content.status == "error", outcome.error == nil {
            outcome.error = "\(content.ename ?? "error"): \(content.evalue ?? "")"
          }
        case "status" where content.executionState == "idle": idle = true
        default: break
        }
        if idle && outcome.replyStatus != nil { return outcome }
      }
    }
    throw CancellationError()
  }

  /// The good verdict's line, or a bad verdict for an error or a result that differs.
  func judge(_ outcome: Outcome) throws -> String {
    let code = Self.shown(settings.code)
    if let error = outcome.error {
      let stderr = Self.tail(outcome.stderr).map { "; stderr: \($0)" } ?? ""
      throw SmokeFailure(.execute, "\(code) raised \(HubAnswer.oneLine(error, limit: 300))\(stderr)")
    }
    if outcome.replyStatus != "ok" {
      throw SmokeFailure(.execute, "\(code) ended with status '\(outcome.replyStatus ?? "?")'")
    }
    let shown = outcome.shown.map { "'\(KernelSmokeReport.oneLine($0, limit: 200))'" } ?? "nothing"
    if let expected = settings.expected, outcome.shown != expected {
      let stderr = Self.tail(outcome.stderr).map { "; stderr: \($0)" } ?? ""
      throw SmokeFailure(
        .execute, "\(code) gave \(shown), expected '\(KernelSmokeReport.oneLine(expected, limit: 200))'\(stderr)")
    }
    return "\(code) -> \(outcome.shown.map { KernelSmokeReport.oneLine($0, limit: 200) } ?? "no output, no error")"
  }

  static func tail(_ text: String) -> String? {
    let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
    guard !trimmed.isEmpty else { return nil }
    return HubAnswer.oneLine(String(trimmed.suffix(300)), limit: 300)
  }

  /// The code as a reason line shows it.
  static func shown(_ code: String) -> String { KernelSmokeReport.oneLine(code, limit: 60) }

  // MARK: - Cleanup

  /// Deletes the kernel and stops the server (unless `--keep-server`). Never changes the
  /// verdict; returns what went wrong, for the report. With `hurry` (a signal), it does not
  /// wait for the server to stop.
  func cleanUp(_ hub: HubConnection, state: RunState, hurry: Bool, say: @Sendable (String) -> Void) async -> [String] {
    var notes = [String]()
    let snapshot = state.read { $0 }
    snapshot.channels?.close()
    if let kernelPath = snapshot.kernelPath, !snapshot.kernelGone {
      let url = settings.hub.url(absolutePath: kernelPath)
      do {
        let answer = try await hub.send(.DELETE, url, timeout: .seconds(10))
        if ![204, 200, 404].contains(answer.status) {
          notes.append("deleting the kernel answered HTTP \(answer.status) (\(answer.message))")
        }
      } catch {
        notes.append("deleting the kernel: \(error)")
      }
    }
    snapshot.channels?.abandon()
    if let user = snapshot.user, snapshot.serverRequested {
      if settings.keepServer {
        say("leaving \(user)'s server running (--keep-server)")
      } else {
        say("stopping \(user)'s server")
        do {
          try await stopServer(hub, user: user, wait: !hurry)
        } catch let failure as SmokeFailure {
          notes.append(failure.reason)
        } catch let misconfigured as KernelSmokeError {
          notes.append(misconfigured.errorDescription ?? "\(misconfigured)")
        } catch {
          notes.append("stopping \(user)'s server: \(error)")
        }
      }
    }
    for note in notes { say("cleanup: \(note)") }
    return notes
  }

  // MARK: - Helpers

  static func seconds(_ duration: Duration) -> String {
    let value = duration.seconds
    return value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
  }

  /// A path segment: user names and kernel ids are escaped as JupyterHub's own client does.
  static func escape(_ segment: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return segment.addingPercentEncoding(withAllowedCharacters: allowed) ?? segment
  }
}

/// What a run has made so far, shared between the phases' tasks and the cleanup.
final class RunState: Sendable {
  struct Values: Sendable {
    var user: String?
    var serverRequested = false
    var serverPath: String?
    var kernelPath: String?
    var kernelGone = false
    var channels: KernelChannels?
    var session: String?
    var lastProgress: String?
  }

  private let values = Mutex(Values())

  func update(_ change: (inout Values) -> Void) {
    values.withLock { change(&$0) }
  }

  func read<T: Sendable>(_ get: (Values) -> T) -> T {
    values.withLock { get($0) }
  }
}

extension Duration {
  /// The duration in seconds, as a Double.
  var seconds: Double {
    let (seconds, attoseconds) = components
    return Double(seconds) + Double(attoseconds) / 1e18
  }
}
