import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Runner

/// Tells people how a hunt ended. A notification never changes the hunt's outcome or exit
/// code: every failure comes back as a `Delivery` for the summary, nothing throws.
public enum Notifier {
  /// Webhook requests per destination at most (the first and three retries).
  static let maximumAttempts = 4
  /// One request's own limit, within the destination's `timeout`.
  static let attemptTimeout: Duration = .seconds(10)

  /// Sends `notice` to every destination whose `on:` holds its trigger, at the same time,
  /// and returns how each went, in the order of `destinations`. Each takes at most its
  /// `timeout` (retries included). `environment` holds the variables `url_env:` names and
  /// is the environment of `command:` destinations; their logs go in `logDirectory`.
  public static func send(
    _ notice: Notice, to destinations: [NotifyDestination], environment: [String: String], logDirectory: URL
  ) async -> [Delivery] {
    let chosen = destinations.filter { $0.triggers.contains(notice.trigger) }
    guard !chosen.isEmpty else { return [] }
    // The webhooks' addresses are secrets: a command destination's environment goes without
    // the variables that hold them (its log could print them otherwise).
    let hookVariables = Set(
      destinations.compactMap { destination -> String? in
        guard case .webhook(.variable(let name), _) = destination.target else { return nil }
        return name
      })
    let commandEnvironment = environment.filter { !hookVariables.contains($0.key) }
    return await withTaskGroup(of: Sent.self) { group in
      for (index, destination) in chosen.enumerated() {
        group.addTask {
          let delivery: Delivery
          switch destination.target {
          case .webhook(let address, let format):
            delivery = await post(
              Payload.body(notice, format: format), to: address, for: destination, environment: environment)
          case .command(let command):
            delivery = await run(
              command, with: notice, for: destination, environment: commandEnvironment, logDirectory: logDirectory)
          }
          return Sent(index: index, delivery: delivery)
        }
      }
      var sent = [Delivery?](repeating: nil, count: chosen.count)
      for await result in group { sent[result.index] = result.delivery }
      return sent.compactMap { $0 }
    }
  }

  /// A child task's delivery with its place: a struct, not a tuple (docs/architecture.md).
  struct Sent: Sendable {
    var index: Int
    var delivery: Delivery
  }

  /// One client for the process, never shut down. Redirects are not followed: the message
  /// goes only to the address configured.
  static let client: HTTPClient = {
    var configuration = HTTPClient.Configuration()
    configuration.connectionPool.retryConnectionEstablishment = false
    configuration.timeout.connect = .seconds(5)
    configuration.redirectConfiguration = .disallow
    return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
  }()

  /// POSTs `body` with retries on 5xx, 429 and network errors, waiting 0.5 s, 1 s, 2 s between
  /// attempts, all within the destination's timeout.
  static func post(
    _ body: Data, to address: WebhookAddress, for destination: NotifyDestination, environment: [String: String]
  ) async -> Delivery {
    let url: String
    switch address {
    case .url(let text): url = text
    case .variable(let name):
      guard let value = environment[name], !value.isEmpty else {
        return Delivery(
          destination: destination.label, succeeded: false, attempts: 0, problem: "$\(name) is not set")
      }
      url = value
    }
    guard isWebhookURL(url) else {
      return Delivery(
        destination: destination.label, succeeded: false, attempts: 0,
        problem: "the address is not an http or https URL (not shown: webhook URLs are secrets)")
    }
    let clock = ContinuousClock()
    let deadline = clock.now + destination.timeout
    var attempts = 0
    var wait: Duration = .milliseconds(500)
    var problem = "not sent"
    while attempts < maximumAttempts {
      let remaining = deadline - clock.now
      guard remaining > .zero else { break }
      attempts += 1
      var request = HTTPClientRequest(url: url)
      request.method = .POST
      request.headers.add(name: "Content-Type", value: "application/json")
      request.headers.add(name: "User-Agent", value: "bisect-deploy")
      request.body = .bytes(ByteBuffer(bytes: body))
      let limit = min(remaining, attemptTimeout)
      var retry = true
      do {
        let response = try await client.execute(request, timeout: timeAmount(limit))
        // Read (and drop) the answer, so that the connection can be reused.
        _ = try await response.body.collect(upTo: 1 << 20)
        let status = Int(response.status.code)
        if (200..<300).contains(status) {
          return Delivery(destination: destination.label, succeeded: true, attempts: attempts)
        }
        problem = "the webhook answered HTTP \(status)"
        retry = status >= 500 || status == 429
      } catch {
        problem = describe(error, timeout: limit)
      }
      guard retry, attempts < maximumAttempts, clock.now + wait < deadline else { break }
      try? await Task.sleep(for: wait)
      wait *= 2
    }
    if attempts > 0 && clock.now >= deadline && !problem.contains("HTTP") {
      problem += " (the notification's timeout of \(seconds(destination.timeout)) s ran out)"
    }
    return Delivery(
      destination: destination.label, succeeded: false, attempts: attempts, problem: redact(problem, url: url))
  }

  /// Runs a `command:` destination with the `--json` result on its standard input, through
  /// the runner (own process group, the destination's timeout, a log, secrets redacted).
  static func run(
    _ command: String, with notice: Notice, for destination: NotifyDestination, environment: [String: String],
    logDirectory: URL
  ) async -> Delivery {
    let input = logDirectory.appendingPathComponent("notify-\(destination.position).json")
    let log = logDirectory.appendingPathComponent("notify-\(destination.position).log")
    do {
      try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
      // The result names commits and commands: readable by its owner only, like the logs.
      guard
        FileManager.default.createFile(
          atPath: input.path, contents: notice.summary, attributes: [.posixPermissions: 0o600])
      else {
        throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: input.path])
      }
    } catch {
      return Delivery(
        destination: destination.label, succeeded: false, attempts: 0,
        problem: "cannot write \(input.path): \(error.localizedDescription)")
    }
    var variables = environment
    variables["BISECT_OUTCOME"] = notice.trigger.rawValue
    var spec = CommandSpec(
      command: command, environment: variables,
      workingDirectory: URL(fileURLWithPath: FileManager.default.currentDirectoryPath), logFile: log,
      timeout: destination.timeout, gracePeriod: .seconds(2))
    spec.standardInput = input
    let result: CommandResult
    do {
      result = try await Runner.run(spec, whenCancelled: .stop)
    } catch {
      return Delivery(
        destination: destination.label, succeeded: false, attempts: 0,
        problem: "cannot start the command: \(error.localizedDescription)")
    }
    guard result.succeeded else {
      return Delivery(
        destination: destination.label, succeeded: false, attempts: 1,
        problem: "the command \(result.termination); see \(log.path)")
    }
    return Delivery(destination: destination.label, succeeded: true, attempts: 1)
  }

  /// `text` with the address, and its path and query, taken out.
  static func redact(_ text: String, url: String) -> String {
    var redacted = text.replacingOccurrences(of: url, with: "<webhook URL>")
    if let parsed = URL(string: url) {
      let path = parsed.path + (parsed.query.map { "?\($0)" } ?? "")
      if path.count > 1 { redacted = redacted.replacingOccurrences(of: path, with: "<webhook path>") }
    }
    return redacted
  }

  static func timeAmount(_ duration: Duration) -> TimeAmount {
    let (whole, attoseconds) = duration.components
    return .nanoseconds(max(1, whole * 1_000_000_000 + attoseconds / 1_000_000_000))
  }

  static func seconds(_ duration: Duration) -> String {
    let value = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    return value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
  }

  /// A short explanation of a failed request: "connection refused", "no answer within 3 s".
  static func describe(_ error: any Error, timeout: Duration) -> String {
    if let client = error as? HTTPClientError {
      switch client {
      case .deadlineExceeded, .readTimeout, .writeTimeout: return "no answer within \(seconds(timeout)) s"
      case .connectTimeout: return "cannot connect (timed out)"
      case .remoteConnectionClosed: return "the connection was closed before an answer"
      default: return "the request failed (\(client))"
      }
    }
    if let connection = error as? NIOConnectionError {
      if connection.dnsAError != nil || connection.dnsAAAAError != nil { return "cannot resolve the host" }
      let causes = Set(connection.connectionErrors.map { describe($0.error, timeout: timeout) })
      return "cannot connect (\(causes.sorted().joined(separator: ", ")))"
    }
    if let io = error as? IOError { return "cannot connect (\(String(cString: strerror(io.errnoCode)).lowercased()))" }
    if error is CancellationError { return "stopped" }
    return "the request failed (\(error))"
  }
}
