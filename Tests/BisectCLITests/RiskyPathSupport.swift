import Foundation
import TestSupport
import Testing

// What the tests of issue 28's risky paths share: a CA made with openssl, a private trust
// store for one process, a TLS-terminating proxy, a webhook answering a fixed status, and a
// child process watched while it runs. Everything listens on 127.0.0.1 only and stops when
// its value goes.

/// A CA and a server certificate it signed (for `localhost` and `127.0.0.1`, two days), made
/// with `openssl` in a folder of the test's.
struct TestCertificateAuthority {
  let folder: URL
  var certificate: URL { folder.appendingPathComponent("ca.crt") }
  var serverCertificate: URL { folder.appendingPathComponent("server.crt") }
  var serverKey: URL { folder.appendingPathComponent("server.key") }

  init(in directory: URL, name: String) throws {
    folder = directory.appendingPathComponent("ca-\(name)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let script = """
      set -eu
      cd "$1"
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/CN=bisect-deploy test CA $2" -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" -keyout ca.key -out ca.crt
      openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
        -keyout server.key -out server.csr
      printf '%s\\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" > server.ext
      openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext \
        -out server.crt
      """
    let output = try runProcess("/bin/sh", ["-c", script, "sh", folder.path, name])
    guard output.status == 0 else {
      throw FixtureError(
        description: "openssl could not make the test CA '\(name)' (\(output.status)): \(output.stderr)")
    }
  }

  /// A folder to stand for /etc/ssl/certs: this CA alone, as `ca-certificates.crt`.
  func trustStore() throws -> URL {
    let store = folder.appendingPathComponent("trust-store")
    try FileManager.default.createDirectory(at: store, withIntermediateDirectories: true)
    let bundle = store.appendingPathComponent("ca-certificates.crt")
    if !FileManager.default.fileExists(atPath: bundle.path) {
      try FileManager.default.copyItem(at: certificate, to: bundle)
    }
    return store
  }
}

/// Runs one process with another set of trusted CAs than the system's, without touching the
/// system: a private mount namespace (`unshare --mount`; where that needs root and we are not,
/// with a user namespace) in which a folder is bound over /etc/ssl/certs.
///
/// Why: bisect-deploy's TLS (swift-nio-ssl on Linux, under AsyncHTTPClient, the kernel's
/// WebSocket and PostgresNIO) trusts only /etc/ssl/certs/ca-certificates.crt and the hashed
/// files of /etc/ssl/certs (the paths are fixed in NIOSSL's LinuxCABundle.swift; no option and
/// no variable such as SSL_CERT_FILE adds a CA). Until issue 34 adds CA bundles, this is the
/// only way to make it trust a test CA without changing Sources/.
enum PrivateTrustStore {
  static let bindThenRun = #"mount --bind "$0" /etc/ssl/certs && exec "$@""#

  /// The `unshare` options that work here, or nil when neither does (the tests that need it
  /// are then reported as skipped).
  static let unshareOptions: [String]? = {
    guard FileManager.default.fileExists(atPath: "/etc/ssl/certs"),
      let probe = try? TemporaryDirectory("trust-store-probe")
    else { return nil }
    let marker = "bisect-deploy-trust-store-probe"
    guard FileManager.default.createFile(atPath: probe.url.appendingPathComponent(marker).path, contents: nil) else {
      return nil
    }
    let candidates = [
      ["--mount", "--propagation", "private"],
      ["--user", "--map-root-user", "--mount", "--propagation", "private"],
    ]
    return candidates.first { options in
      let output = try? runProcess(
        "/usr/bin/env",
        ["unshare"] + options + ["/bin/sh", "-c", bindThenRun, probe.path, "test", "-f", "/etc/ssl/certs/\(marker)"])
      return output?.status == 0
    }
  }()

  static var isAvailable: Bool { unshareOptions != nil }

  /// The executable and arguments that run `executable` with `store` as /etc/ssl/certs.
  static func command(trusting store: URL, _ executable: String, _ arguments: [String]) throws -> (
    executable: String, arguments: [String]
  ) {
    let options = try #require(unshareOptions, "no private mount namespace here")
    return ("/usr/bin/env", ["unshare"] + options + ["/bin/sh", "-c", bindThenRun, store.path, executable] + arguments)
  }
}

/// A TLS-terminating proxy on 127.0.0.1 in front of a plain TCP port (the local hub's):
/// bytes pass both ways unchanged, so HTTP and WebSocket alike. It notes the first request
/// line of each connection and whether it asked for a WebSocket.
final class TLSTerminatingProxy {
  let process = Process()
  let log: URL
  let port: Int

  static let script = #"""
    import argparse, asyncio, json, ssl

    async def pipe(reader, writer):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass

    async def main():
        parser = argparse.ArgumentParser()
        for name in ("cert", "key", "log"):
            parser.add_argument(name)
        parser.add_argument("target", type=int)
        parser.add_argument("--lifetime", type=float, default=300)
        args = parser.parse_args()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)

        async def handle(client_reader, client_writer):
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = await client_reader.read(65536)
                if not chunk:
                    break
                head += chunk
            lines = head.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
            websocket = any(l.lower().startswith("upgrade:") and "websocket" in l.lower() for l in lines[1:])
            with open(args.log, "a") as log:
                log.write(json.dumps({"request": lines[0], "websocket": websocket}) + "\n")
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", args.target)
            except OSError:
                client_writer.close()
                return
            upstream_writer.write(head)
            await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))

        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
        print(server.sockets[0].getsockname()[1], flush=True)
        async with server:
            await asyncio.sleep(args.lifetime)

    asyncio.run(main())
    """#

  init(certificate: URL, key: URL, target: Int, in directory: URL) throws {
    let script = directory.appendingPathComponent("tls-proxy-\(UUID().uuidString).py")
    try Data(Self.script.utf8).write(to: script)
    log = directory.appendingPathComponent("tls-proxy-\(UUID().uuidString).jsonl")
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
      "python3", script.path, certificate.path, key.path, log.path, String(target), "--lifetime", "300",
    ]
    port = try startPrintingPort(process, name: "the TLS proxy")
  }

  deinit { stopChild(process) }

  /// One connection the proxy took: its first request line, and whether it was a WebSocket.
  struct Connection: Decodable {
    var request: String
    var websocket: Bool
  }

  /// The connections so far, in order.
  func connections() throws -> [Connection] {
    let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    return try lines(text).map { try JSONDecoder().decode(Connection.self, from: Data($0.utf8)) }
  }
}

/// A webhook on 127.0.0.1 that answers every POST with one status, noting each request.
final class StatusWebhook {
  let process = Process()
  let record: URL
  let port: Int

  static let script = #"""
    import http.server, json, socketserver, sys, threading, time

    record, status, lifetime = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *_):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock, open(record, "a") as out:
                out.write(json.dumps({"path": self.path, "status": status, "time": time.time()}) + "\n")
            body = b"answered %d" % status
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", "1")
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    threading.Timer(lifetime, server.shutdown).start()
    server.serve_forever()
    """#

  init(status: Int, in directory: URL) throws {
    let script = directory.appendingPathComponent("status-webhook-\(UUID().uuidString).py")
    try Data(Self.script.utf8).write(to: script)
    record = directory.appendingPathComponent("webhook-\(status)-\(UUID().uuidString).jsonl")
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script.path, record.path, String(status), "90"]
    port = try startPrintingPort(process, name: "the webhook")
  }

  deinit { stopChild(process) }

  func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

  /// The requests received so far (each one line of the record).
  func requestCount() -> Int {
    lines((try? String(contentsOf: record, encoding: .utf8)) ?? "").count
  }
}

/// Starts `process`, whose first line of standard output is its port, and returns the port.
func startPrintingPort(_ process: Process, name: String) throws -> Int {
  let output = Pipe()
  process.standardOutput = output
  process.standardError = FileHandle.nullDevice
  process.standardInput = FileHandle.nullDevice
  try process.run()
  // Bounded by the pipe's end when the child dies.
  var text = ""
  while !text.contains("\n") {
    let chunk = output.fileHandleForReading.availableData
    if chunk.isEmpty { break }
    text += String(decoding: chunk, as: UTF8.self)
  }
  guard let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
    stopChild(process)
    throw FixtureError(description: "\(name) printed no port: '\(text)'")
  }
  return port
}

/// SIGKILL and wait: a child of the test runner may inherit a signal mask that blocks SIGTERM.
private func stopChild(_ process: Process) {
  if process.isRunning { kill(process.processIdentifier, SIGKILL) }
  process.waitUntilExit()
}

/// A child process watched while it runs: its output goes to files that can be read at any
/// time; killed (SIGKILL) if still running when the value goes.
final class WatchedProcess {
  let process = Process()
  let stdoutFile: URL
  let stderrFile: URL

  init(_ executable: String, _ arguments: [String], environment: [String: String], in directory: URL) throws {
    let name = UUID().uuidString
    stdoutFile = directory.appendingPathComponent("\(name).out")
    stderrFile = directory.appendingPathComponent("\(name).err")
    for file in [stdoutFile, stderrFile] {
      guard FileManager.default.createFile(atPath: file.path, contents: nil) else {
        throw FixtureError(description: "cannot create \(file.path)")
      }
    }
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = environment
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = try FileHandle(forWritingTo: stdoutFile)
    process.standardError = try FileHandle(forWritingTo: stderrFile)
    try process.run()
  }

  deinit { stopChild(process) }

  var pid: pid_t { process.processIdentifier }
  var stdout: String { (try? String(contentsOf: stdoutFile, encoding: .utf8)) ?? "" }
  var stderr: String { (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? "" }

  /// Waits until `file` exists; false when the process ended first or `seconds` passed.
  func waitFor(_ file: URL, seconds: Double) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while !FileManager.default.fileExists(atPath: file.path) {
      if !process.isRunning || Date() > deadline { return false }
      usleep(20_000)
    }
    return true
  }

  /// Waits for the end; the exit status as a shell shows it (128 + N for a signal).
  func wait() -> Int32 {
    process.waitUntilExit()
    return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
  }
}

extension LocalHub {
  /// The hub's port (its public address is http://127.0.0.1:PORT).
  var port: Int {
    get throws { try #require(URLComponents(string: url)?.port, "no port in \(url)") }
  }

  /// One request to the hub (or through it to a user's server) with the token, by another
  /// program's client (Python's urllib): the status and the body.
  func request(_ method: String, _ path: String) throws -> (status: Int, body: String) {
    let output = try runProcess(
      "/usr/bin/env",
      [
        "python3", "-c",
        """
        import sys, urllib.error, urllib.request
        request = urllib.request.Request(sys.argv[1], method=sys.argv[2], headers={"Authorization": "token " + sys.argv[3]})
        try:
            with urllib.request.urlopen(request, timeout=15) as answer:
                status, body = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        print(status)
        print(body.decode())
        """,
        url + path, method, token,
      ])
    let printed = output.stdout.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
    let status = try #require(printed.first.flatMap { Int($0) }, "\(method) \(path): \(output.stderr)")
    return (status, printed.count > 1 ? String(printed[1]) : "")
  }
}
