import Foundation
import TestSupport
import Testing

/// `smoke kernel` against a hub that sends its answer's headers, then one byte now and then
/// (issue 30, item 5): the request's 15 s bound the whole answer, not each byte.
@Suite struct TricklingHubTests {
  /// A loopback server that answers every request with headers announcing 100 bytes, then
  /// sends one byte every second; it prints its port and stops by itself after 120 s.
  static let server = """
    import socket, sys, threading, time
    listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen(8)
    print(listener.getsockname()[1], flush=True)
    def serve(connection):
        try:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: 100\\r\\n\\r\\n")
            for _ in range(100):
                connection.sendall(b" "); time.sleep(1)
        except OSError:
            pass
    def stop():
        time.sleep(120); sys.exit(0)
    threading.Thread(target=stop, daemon=True).start()
    listener.settimeout(120)
    while True:
        try:
            connection, _ = listener.accept()
        except OSError:
            break
        threading.Thread(target=serve, args=(connection,), daemon=True).start()
    """

  @Test("a hub trickling its answer byte by byte is given up on after the request's 15 s, not after the whole body")
  func trickle() throws {
    let directory = try TemporaryDirectory("trickle")
    let script = directory.url.appendingPathComponent("trickle.py")
    try Self.server.write(to: script, atomically: true, encoding: .utf8)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script.path]
    let port = try startPrintingPort(process, name: "trickle.py")
    defer {
      if process.isRunning { kill(process.processIdentifier, SIGKILL) }
      process.waitUntilExit()
    }
    var environment = gitEnvironment
    environment["JUPYTERHUB_API_TOKEN"] = "not-a-real-token"
    let started = Date()
    let output = try bisectDeploy(
      ["smoke", "kernel", "--hub", "http://127.0.0.1:\(port)/", "--user", "smoke"], environment: environment)
    let elapsed = Date().timeIntervalSince(started)
    // 15 s and the tool's own start, with slack for a loaded machine; the body alone would take 100 s.
    #expect(elapsed < 60, "took \(elapsed) s")
    #expect(elapsed >= 14, "gave up after \(elapsed) s, before the 15 s a request has")
    #expect(output.stdout.contains("no complete answer within 15"), "\(output.stdout)\(output.stderr)")
  }
}
