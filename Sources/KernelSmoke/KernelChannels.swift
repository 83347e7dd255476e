import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import Synchronization

/// A kernel's channels (`/api/kernels/ID/channels`) over one WebSocket, as JupyterLab opens
/// them: the Jupyter messages as JSON text frames, the channel named in each, the token in
/// the handshake's `Authorization` header and the page's `Origin` (scheme, host and port,
/// as a browser sends it: JupyterHub's Python proxy, on tornado, refuses a WebSocket whose
/// Origin does not match the Host). No subprotocol is asked for: that proxy does not pass
/// subprotocols on.
///
/// Built on SwiftNIO's WebSocket upgrader and frames. (swift-websocket's client sends
/// `Origin: ws://HOST` without the port, which that proxy refuses on any port but 80/443,
/// and adds headers after its own, so it cannot be corrected.)
///
/// The connection runs in a task of its own and hands what happens to the test through a
/// mailbox (`next()`). That keeps a time limit honest: a server holds the handshake open
/// while the kernel is not ready (a dying kernel never is, until the proxy gives up after
/// 20 s), and waiting on NIO's handshake future does not end on cancellation; `next()` does.
final class KernelChannels: Sendable {
  /// What happens on the connection, in order.
  enum Event: Sendable {
    /// The server accepted the WebSocket.
    case opened
    /// One text message: a Jupyter message as JSON.
    case message(Data)
    /// The connection ended; `reason` says how when it was not our own close.
    case ended(reason: String?)
  }

  private enum Upgrade: Sendable {
    case websocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>)
    case refused
  }

  private let mailbox = Mailbox()
  private let outbound: AsyncStream<String>.Continuation
  private let connection: Task<Void, Never>

  /// Starts connecting to the WebSocket at `path` (absolute, with its query) on `hub`,
  /// with the token; returns at once.
  init(hub: HubAddress, path: String, token: HubToken) {
    let (toSend, sendSink) = AsyncStream.makeStream(of: String.self)
    outbound = sendSink
    let mailbox = mailbox
    connection = Task {
      do {
        let upgrade = try await Self.connect(hub: hub, path: path, token: token)
        switch try await upgrade.get() {
        case .refused:
          mailbox.put(.ended(reason: "the server refused the WebSocket (the kernel's channels did not open)"))
        case .websocket(let channel):
          mailbox.put(.opened)
          let reason = try await Self.converse(channel, toSend: toSend, mailbox: mailbox)
          mailbox.put(.ended(reason: reason))
        }
      } catch {
        let why = token.redact(HubConnection.describe(error, timeout: .seconds(0)))
        mailbox.put(.ended(reason: "the kernel's channels failed: \(why)"))
      }
      mailbox.finish()
    }
  }

  /// Connects and sends the upgrade request; the future says whether the server upgraded.
  private static func connect(hub: HubAddress, path: String, token: HubToken) async throws -> EventLoopFuture<
    Upgrade
  > {
    let tls = try hub.scheme == "https" ? NIOSSLContext(configuration: .makeClientConfiguration()) : nil
    let port = hub.port ?? (tls == nil ? 80 : 443)
    var headers = HTTPHeaders()
    headers.add(name: "Host", value: hub.port == nil ? hub.hostForHeader : "\(hub.hostForHeader):\(port)")
    headers.add(name: "Origin", value: hub.origin)
    headers.add(name: "Authorization", value: token.authorization)
    let request = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)
    let upgrade = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .connectTimeout(.seconds(10))
      .connect(host: hub.host, port: port) { channel in
        channel.eventLoop.makeCompletedFuture {
          if let tls {
            let handler = try NIOSSLClientHandler(context: tls, serverHostname: hub.isIPAddress ? nil : hub.host)
            try channel.pipeline.syncOperations.addHandler(handler)
          }
          let upgrader = NIOTypedWebSocketClientUpgrader<Upgrade>(maxFrameSize: 1 << 24) { channel, _ in
            channel.eventLoop.makeCompletedFuture {
              .websocket(try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(wrappingChannelSynchronously: channel))
            }
          }
          let configuration = NIOTypedHTTPClientUpgradeConfiguration(
            upgradeRequestHead: request, upgraders: [upgrader],
            notUpgradingCompletionHandler: { channel in channel.eventLoop.makeCompletedFuture { .refused } })
          return try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
            configuration: .init(upgradeConfiguration: configuration))
        }
      }
    return upgrade
  }

  /// Sends what `toSend` yields, hands text messages to `mailbox`, answers pings and the
  /// close handshake, until `toSend` ends (our close) or the server closes. Returns why the
  /// connection ended, nil for our own close.
  private static func converse(
    _ channel: NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, toSend: AsyncStream<String>, mailbox: Mailbox
  ) async throws -> String? {
    // Awaited into locals before returning (see "Rules of the code" in docs/architecture.md).
    let reason = try await channel.executeThenClose { inbound, outbound in
      let ended = try await withThrowingTaskGroup(of: String?.self) { group in
        group.addTask {
          for await text in toSend {
            try await outbound.write(
              WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: ByteBuffer(string: text)))
          }
          // Our close: tell the server, and do not wait for its answer.
          var goingAway = ByteBuffer()
          goingAway.write(webSocketErrorCode: .normalClosure)
          try? await outbound.write(
            WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: goingAway))
          return nil
        }
        group.addTask {
          var text = ByteBuffer()
          var inText = false
          for try await frame in inbound {
            switch frame.opcode {
            case .text:
              text = frame.unmaskedData
              inText = true
            case .continuation where inText:
              var more = frame.unmaskedData
              text.writeBuffer(&more)
            case .ping:
              try await outbound.write(
                WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData))
              continue
            case .connectionClose:
              var data = frame.unmaskedData
              let code = data.readWebSocketErrorCode().map { " (\($0))" } ?? ""
              return "the server closed the kernel's channels\(code)"
            default:
              inText = false
              continue  // binary frames carry buffers, not what the test reads
            }
            if frame.fin {
              mailbox.put(.message(Data(text.readableBytesView)))
              text.clear()
              inText = false
            }
          }
          return "the server closed the kernel's channels"
        }
        // Whichever ends first: our close, or the server's.
        let first = try await group.next()
        group.cancelAll()
        return first ?? nil
      }
      return ended
    }
    return reason
  }

  /// The next event; nil when the connection's task has ended and everything was read, or
  /// when the calling task is cancelled (events stay queued for the next call).
  func next() async -> Event? { await mailbox.next() }

  /// Queues one message to send.
  func send(_ text: String) { outbound.yield(text) }

  /// Closes the WebSocket.
  func close() { outbound.finish() }

  /// Gives up on the connection: cancels its task and does not wait for it.
  func abandon() {
    outbound.finish()
    connection.cancel()
  }
}

/// A queue of events with one reader at a time. Unlike an `AsyncStream`, a reader that is
/// cancelled (a phase that timed out) or done (kernel_info answered) leaves the queue open
/// for the next phase.
private final class Mailbox: Sendable {
  private struct State {
    var queued: [KernelChannels.Event] = []
    var waiter: CheckedContinuation<KernelChannels.Event?, Never>?
    var finished = false
  }

  private let state = Mutex(State())

  func put(_ event: KernelChannels.Event) {
    let waiter = state.withLock { state in
      guard !state.finished else { return nil as CheckedContinuation<KernelChannels.Event?, Never>? }
      guard let waiter = state.waiter else {
        state.queued.append(event)
        return nil
      }
      state.waiter = nil
      return waiter
    }
    waiter?.resume(returning: event)
  }

  func finish() {
    let waiter = state.withLock { state in
      state.finished = true
      defer { state.waiter = nil }
      return state.waiter
    }
    waiter?.resume(returning: nil)
  }

  func next() async -> KernelChannels.Event? {
    await withTaskCancellationHandler {
      await withCheckedContinuation { (continuation: CheckedContinuation<KernelChannels.Event?, Never>) in
        // Decided under the lock; resumed outside it.
        let now: KernelChannels.Event?? = state.withLock { state in
          if !state.queued.isEmpty { return .some(state.queued.removeFirst()) }
          if state.finished || Task.isCancelled { return .some(nil) }
          state.waiter = continuation
          return nil
        }
        if let now { continuation.resume(returning: now) }
      }
    } onCancel: {
      let waiter = state.withLock { state in
        defer { state.waiter = nil }
        return state.waiter
      }
      waiter?.resume(returning: nil)
    }
  }
}

/// The parts of a Jupyter message (messaging protocol 5.x) the smoke test reads.
struct JupyterMessage: Decodable, Sendable {
  struct Header: Decodable, Sendable {
    var msgID: String?
    var msgType: String?
    enum CodingKeys: String, CodingKey {
      case msgID = "msg_id"
      case msgType = "msg_type"
    }
  }

  struct Content: Decodable, Sendable {
    /// `status` messages: busy, idle, starting, restarting, dead.
    var executionState: String?
    /// Replies: ok, error, aborted.
    var status: String?
    /// `stream`: stdout or stderr, and the text.
    var name: String?
    var text: String?
    /// `execute_result` and `display_data`: the representations; only text/plain is read.
    var data: [String: JSONValue]?
    /// `error` and error replies.
    var ename: String?
    var evalue: String?
    /// kernel_info_reply.
    var implementation: String?
    var languageInfo: LanguageInfo?

    struct LanguageInfo: Decodable, Sendable {
      var name: String?
      var version: String?
    }

    enum CodingKeys: String, CodingKey {
      case executionState = "execution_state"
      case status, name, text, data, ename, evalue, implementation
      case languageInfo = "language_info"
    }

    var plainText: String? {
      if case .string(let text) = data?["text/plain"] { return text }
      return nil
    }
  }

  var channel: String?
  var header: Header
  var parentHeader: Header?
  var msgType: String?
  var content: Content

  enum CodingKeys: String, CodingKey {
    case channel, header, content
    case parentHeader = "parent_header"
    case msgType = "msg_type"
  }

  /// The message's type, from the top level or the header.
  var type: String { msgType ?? header.msgType ?? "" }
  /// The id of the request this message answers, if any.
  var parentID: String? { parentHeader?.msgID }

  /// A request on the shell channel, as JSON text.
  static func request(type: String, id: String, session: String, content: [String: JSONValue]) -> String {
    let message: [String: JSONValue] = [
      "header": .object([
        "msg_id": .string(id), "msg_type": .string(type), "session": .string(session),
        "username": .string("bisect-deploy"), "version": .string("5.3"),
        "date": .string(ISO8601DateFormatter().string(from: Date())),
      ]),
      "parent_header": .object([:]),
      "metadata": .object([:]),
      "content": .object(content),
      "buffers": .array([]),
      "channel": .string("shell"),
    ]
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: (try? encoder.encode(JSONValue.object(message))) ?? Data(), as: UTF8.self)
  }
}

/// Any JSON value, for the parts of messages whose shape varies.
enum JSONValue: Codable, Sendable, Equatable {
  case null
  case bool(Bool)
  case number(Double)
  case string(String)
  case array([JSONValue])
  case object([String: JSONValue])

  init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    if container.decodeNil() {
      self = .null
    } else if let value = try? container.decode(Bool.self) {
      self = .bool(value)
    } else if let value = try? container.decode(Double.self) {
      self = .number(value)
    } else if let value = try? container.decode(String.self) {
      self = .string(value)
    } else if let value = try? container.decode([JSONValue].self) {
      self = .array(value)
    } else {
      self = .object(try container.decode([String: JSONValue].self))
    }
  }

  func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    switch self {
    case .null: try container.encodeNil()
    case .bool(let value): try container.encode(value)
    case .number(let value): try container.encode(value)
    case .string(let value): try container.encode(value)
    case .array(let value): try container.encode(value)
    case .object(let value): try container.encode(value)
    }
  }
}
