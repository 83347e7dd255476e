import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// One answer from the hub, or through its proxy from a user's server.
struct HubAnswer: Sendable {
  var status: Int
  var body: Data
  /// The `Location` of a redirect.
  var location: String?

  /// The body decoded as `type`, or nil when it is not that JSON.
  func decoded<T: Decodable>(_ type: T.Type) -> T? {
    try? JSONDecoder().decode(type, from: body)
  }

  /// What the body says, for a reason line: JupyterHub's and jupyter-server's `message`
  /// field, else the start of the text (an HTML error page is summarised by its title).
  var message: String {
    struct ErrorBody: Decodable { var message: String? }
    if let text = decoded(ErrorBody.self)?.message, !text.isEmpty { return HubAnswer.oneLine(text, limit: 300) }
    let text = String(decoding: body.prefix(4096), as: UTF8.self)
    if let start = text.range(of: "<title>"),
      let end = text.range(of: "</title>", range: start.upperBound..<text.endIndex)
    {
      return "an HTML page titled '\(HubAnswer.oneLine(String(text[start.upperBound..<end.lowerBound]), limit: 100))'"
    }
    let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
    return trimmed.isEmpty ? "an empty body" : HubAnswer.oneLine(trimmed, limit: 200)
  }

  static func oneLine(_ text: String, limit: Int) -> String {
    let flat = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
      .joined(separator: " ")
    return flat.count <= limit ? flat : String(flat.prefix(limit - 1)) + "…"
  }
}

/// The hub's REST API (and the user's server behind its proxy), spoken with the token as a
/// browser's JavaScript or a JupyterHub service speaks it: `Authorization: token ...`, JSON
/// bodies.
struct HubConnection: Sendable {
  let address: HubAddress
  let token: HubToken
  var client: HTTPClient { Self.client }

  /// One client for the process, never shut down (as AsyncHTTPClient's own `shared`). Unlike
  /// `shared`, it does not retry a refused connection until the connect timeout: a hub that is
  /// down says so at once. Redirects are not followed: the token never goes to another address.
  static let client: HTTPClient = {
    var configuration = HTTPClient.Configuration()
    configuration.connectionPool.retryConnectionEstablishment = false
    configuration.timeout.connect = .seconds(10)
    configuration.redirectConfiguration = .disallow
    return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
  }()

  /// A request could not be made or got no answer (refused, reset, timed out).
  struct Unreachable: Error, Sendable {
    var description: String
  }

  /// Sends one request and reads the whole answer (at most 4 MiB) within `timeout`.
  /// `url` is absolute (see `HubAddress`). Throws `Unreachable` when nothing answered,
  /// `CancellationError` when the task was cancelled.
  func send(
    _ method: HTTPMethod, _ url: String, json: String? = nil, authorized: Bool = true, timeout: Duration
  ) async throws -> HubAnswer {
    var request = HTTPClientRequest(url: url)
    request.method = method
    request.headers.add(name: "Accept", value: "application/json")
    if authorized { request.headers.add(name: "Authorization", value: token.authorization) }
    if let json {
      request.headers.add(name: "Content-Type", value: "application/json")
      request.body = .bytes(ByteBuffer(string: json))
    }
    let client = client
    let prepared = request
    do {
      // The timeout bounds the whole exchange, the body included: a hub that sends its
      // headers and then a byte now and then never resets it (docs/smoke.md: 15 s a request).
      let answer = try await Self.within(timeout) {
        let response = try await client.execute(prepared, timeout: Self.timeAmount(timeout))
        let body = try await response.body.collect(upTo: 4 << 20)
        let answer = HubAnswer(
          status: Int(response.status.code), body: Data(body.readableBytesView),
          location: response.headers.first(name: "Location"))
        return answer
      }
      return answer
    } catch {
      throw translated(error, timeout: timeout)
    }
  }

  /// The whole of a request took longer than its timeout.
  struct WholeTimeout: Error {}

  /// Runs `work`, throwing `WholeTimeout` when it has not finished within `limit` (it is then
  /// cancelled, and the request with it).
  static func within<Value: Sendable>(
    _ limit: Duration, _ work: @escaping @Sendable () async throws -> Value
  ) async throws -> Value {
    try await withThrowingTaskGroup(of: Value?.self) { group in
      group.addTask {
        let value = try await work()
        return value
      }
      group.addTask {
        try await Task.sleep(for: limit)
        return nil
      }
      defer { group.cancelAll() }
      guard let first = try await group.next(), let value = first else { throw WholeTimeout() }
      return value
    }
  }

  /// Opens an event stream (text/event-stream, as the spawn progress API sends) and hands
  /// each `data:` payload to `onEvent` until it returns false or the stream ends.
  func follow(
    _ url: String, timeout: Duration, onEvent: (Data) throws -> Bool
  ) async throws -> Int {
    var request = HTTPClientRequest(url: url)
    request.headers.add(name: "Accept", value: "text/event-stream")
    request.headers.add(name: "Authorization", value: token.authorization)
    do {
      let response = try await client.execute(request, timeout: Self.timeAmount(timeout))
      guard response.status == .ok else { return Int(response.status.code) }
      var pending = Data()
      for try await chunk in response.body {
        pending.append(contentsOf: chunk.readableBytesView)
        // Events end with a blank line; a keep-alive is a blank line alone.
        while let end = pending.firstRange(of: Data("\n\n".utf8)) {
          let event = pending[pending.startIndex..<end.lowerBound]
          pending = Data(pending[end.upperBound...])
          var payload = Data()
          for line in event.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)
          where line.starts(with: Data("data:".utf8)) {
            if !payload.isEmpty { payload.append(UInt8(ascii: "\n")) }
            payload.append(contentsOf: line.dropFirst(5).drop { $0 == UInt8(ascii: " ") })
          }
          if !payload.isEmpty, try !onEvent(payload) { return 200 }
        }
        if pending.count > 1 << 20 { break }
      }
      return 200
    } catch {
      throw translated(error, timeout: timeout)
    }
  }

  /// What a failed request throws: a verdict from `onEvent` as it is, cancellation as
  /// cancellation, anything else (refused, reset, timed out) as `Unreachable`.
  private func translated(_ error: any Error, timeout: Duration) -> any Error {
    if error is SmokeFailure { return error }
    if error is CancellationError || Task.isCancelled { return CancellationError() }
    return Unreachable(description: token.redact(Self.describe(error, timeout: timeout)))
  }

  static func timeAmount(_ duration: Duration) -> TimeAmount {
    let (seconds, attoseconds) = duration.components
    return .nanoseconds(max(1, seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
  }

  /// A short explanation of a failed request: "connection refused", "no answer within 5 s".
  static func describe(_ error: any Error, timeout: Duration) -> String {
    if error is WholeTimeout {
      return "no complete answer within \(KernelSmokeReport.format(Double(timeout.components.seconds))) s"
    }
    if let client = error as? HTTPClientError {
      switch client {
      case .deadlineExceeded, .readTimeout, .writeTimeout:
        return "no answer within \(KernelSmokeReport.format(Double(timeout.components.seconds))) s"
      case .connectTimeout:
        return "cannot connect (timed out)"
      case .remoteConnectionClosed:
        return "the connection was closed before an answer"
      default:
        return "\(client)"
      }
    }
    if let connection = error as? NIOConnectionError {
      let causes = connection.connectionErrors.map { Self.describe($0.error, timeout: timeout) }
      if let dns = connection.dnsAError ?? connection.dnsAAAAError { return "cannot resolve the host (\(dns))" }
      return "cannot connect (\(Array(Set(causes)).sorted().joined(separator: ", ")))"
    }
    if let io = error as? IOError { return String(cString: strerror(io.errnoCode)).lowercased() }
    return "\(error)"
  }
}
