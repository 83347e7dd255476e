import Foundation

/// The phases of a kernel smoke test, in order.
public enum Phase: String, Sendable, Codable, CaseIterable {
  /// `GET /hub/api/`: the hub answers, with its version.
  case hub
  /// The user's server: stopped if one was left running, started, followed until ready.
  case server
  /// A kernel: created through the server's API, its channels opened, kernel_info answered.
  case kernel
  /// The code run on the kernel until it is idle again.
  case execute
  /// The kernel deleted and the server stopped (not part of the verdict).
  case cleanup
}

/// The outcome of one kernel smoke test, in the hunt's protocol.
public struct KernelSmokeReport: Sendable, Encodable {
  /// What the run says about the deployed commit.
  public enum Verdict: String, Sendable, Encodable {
    /// The code gave the expected result: exit 0.
    case good
    /// Something a user would hit failed: exit 1.
    case bad
    /// The test itself is set up wrong (token, URL, user, rights): the hunt must stop.
    case misconfigured
  }

  public var verdict: Verdict
  /// One line: what failed and what came back, or what worked.
  public var reason: String
  /// The phase that failed, for a bad verdict.
  public var failedPhase: Phase?
  public var hub: String
  public var hubVersion: String?
  public var user: String?
  public var kernel: String
  public var code: String
  public var expected: String?
  /// The `text/plain` result of the code, or what it printed when it had no result.
  public var result: String?
  /// Seconds per phase, for the phases that ran (a failed phase until it failed).
  public var seconds: [Phase: Double]
  /// Seconds from start to verdict (cleanup not included).
  public var totalSeconds: Double
  /// Problems during cleanup (a kernel or server that would not stop); they never change
  /// the verdict.
  public var cleanupNotes: [String]

  /// Timings on one line, phases in order:
  /// `hub 5.3.0 up 0.02 s; server 3.1 s; kernel 0.8 s; 1+1 -> 2 in 0.05 s; cleanup 1.2 s`.
  public var timings: String {
    var parts = [String]()
    if let hubSeconds = seconds[.hub] {
      parts.append(
        hubVersion.map { "hub \($0) up \(Self.format(hubSeconds)) s" } ?? "hub down after \(Self.format(hubSeconds)) s")
    }
    if let server = seconds[.server] {
      parts.append("server \(failedPhase == .server ? "failed after " : "")\(Self.format(server)) s")
    }
    if let kernel = seconds[.kernel] {
      parts.append("kernel \(failedPhase == .kernel ? "failed after " : "")\(Self.format(kernel)) s")
    }
    if let execute = seconds[.execute] {
      parts.append(
        "\(Self.oneLine(code, limit: 40)) -> \(result.map { Self.oneLine($0, limit: 40) } ?? "nothing") in \(Self.format(execute)) s"
      )
    }
    if let cleanup = seconds[.cleanup] { parts.append("cleanup \(Self.format(cleanup)) s") }
    return parts.joined(separator: "; ")
  }

  /// Seconds with two decimals below 10 s, one above.
  static func format(_ seconds: Double) -> String {
    String(format: seconds < 10 ? "%.2f" : "%.1f", seconds)
  }

  /// `text` on one line, shortened to `limit` characters.
  static func oneLine(_ text: String, limit: Int) -> String {
    let flat = text.replacingOccurrences(of: "\r\n", with: "\\n").replacingOccurrences(of: "\n", with: "\\n")
    return flat.count <= limit ? flat : String(flat.prefix(limit - 1)) + "…"
  }

  enum CodingKeys: String, CodingKey {
    case verdict, reason, failedPhase, hub, hubVersion, user, kernel, code, expected, result, seconds, totalSeconds
    case cleanupNotes
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(verdict, forKey: .verdict)
    try container.encode(reason, forKey: .reason)
    try container.encodeIfPresent(failedPhase, forKey: .failedPhase)
    try container.encode(hub, forKey: .hub)
    try container.encodeIfPresent(hubVersion, forKey: .hubVersion)
    try container.encodeIfPresent(user, forKey: .user)
    try container.encode(kernel, forKey: .kernel)
    try container.encode(code, forKey: .code)
    try container.encodeIfPresent(expected, forKey: .expected)
    try container.encodeIfPresent(result, forKey: .result)
    // Phase names as keys, in the order they ran; seconds rounded to the millisecond.
    let phases = Dictionary(uniqueKeysWithValues: seconds.map { ($0.key.rawValue, ($0.value * 1000).rounded() / 1000) })
    try container.encode(phases, forKey: .seconds)
    try container.encode((totalSeconds * 1000).rounded() / 1000, forKey: .totalSeconds)
    try container.encode(cleanupNotes, forKey: .cleanupNotes)
  }
}
