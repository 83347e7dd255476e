import Foundation
import TestSupport
import Testing

/// How a webhook's answer decides a retry (docs/notify.md): a 4xx is the receiver saying the
/// request itself is wrong, so it is sent once; 5xx and 429 are tried again, up to four
/// attempts. A real HTTP server on 127.0.0.1 answers one status to every request and counts
/// them; the hunt has finished notifying when it exits, so the count is final then.
@Suite struct WebhookStatusTests {
  typealias Bench = RevertBench

  /// A hunt of `pass` (culprit found, exit 0) notifying `webhook` in the json format.
  static func hunt(notifying webhook: StatusWebhook, bench: Bench) throws -> ProcessOutput {
    let config = bench.directory.url.appendingPathComponent("bisect-deploy-\(UUID().uuidString).yml")
    try "notify:\n  - webhook: \(webhook.url("/hook"))\n    format: json\n    timeout: 20s\n".write(
      to: config, atomically: true, encoding: .utf8)
    return try bench.hunt(bad: "pass", ["--config", config.path])
  }

  @Test(
    "a webhook answering 4xx gets exactly one request: it is not retried", arguments: [400, 401, 403, 404, 410, 422])
  func clientErrorIsNotRetried(status: Int) throws {
    let bench = try Bench()
    let webhook = try StatusWebhook(status: status, in: bench.directory.url)
    let output = try Self.hunt(notifying: webhook, bench: bench)
    try #require(output.status == 0, "\(output.stdout)\(output.stderr)")
    #expect(webhook.requestCount() == 1)
  }

  @Test(
    "a webhook answering 5xx or 429 every time gets four requests: the first and three retries",
    arguments: [429, 500, 502, 503])
  func serverErrorIsRetried(status: Int) throws {
    let bench = try Bench()
    let webhook = try StatusWebhook(status: status, in: bench.directory.url)
    let output = try Self.hunt(notifying: webhook, bench: bench)
    try #require(output.status == 0, "\(output.stdout)\(output.stderr)")
    #expect(webhook.requestCount() == 4)
  }

  @Test("a 4xx answer is one FAILED line of the summary, naming the status, after one attempt")
  func clientErrorInTheSummary() throws {
    let bench = try Bench()
    let webhook = try StatusWebhook(status: 404, in: bench.directory.url)
    let output = try Self.hunt(notifying: webhook, bench: bench)
    try #require(output.status == 0, "\(output.stdout)\(output.stderr)")
    #expect(
      lines(output.stdout).contains(
        "Notification notify[1] (json webhook, URL in the configuration) FAILED: the webhook answered HTTP 404. The hunt's answer and exit code are unchanged."
      ), "\(output.stdout)")
  }
}
