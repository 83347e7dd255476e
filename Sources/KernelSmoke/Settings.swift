import Foundation

/// The public address of a JupyterHub (its proxy), as users open it: `http(s)://host[:port]`
/// with the hub's base URL as path (`/` by default). Holds no secret: URLs with user info, a
/// query or a fragment are refused, since a token put there would end up in logs.
public struct HubAddress: Sendable, Equatable, CustomStringConvertible {
  /// `http` or `https`.
  public let scheme: String
  /// The host name or address, as given (IPv6 without brackets).
  public let host: String
  /// The port, when the URL names one.
  public let port: Int?
  /// The hub's base URL: starts and ends with `/`.
  public let basePath: String

  /// Parses and checks `--hub`.
  public init(parsing text: String) throws(KernelSmokeError) {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    let shown = Self.withoutSecrets(trimmed)
    guard !trimmed.isEmpty else { throw .invalidHub(shown: shown, reason: "it is empty") }
    guard !trimmed.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F }) else {
      throw .invalidHub(shown: shown, reason: "it contains spaces or control characters")
    }
    guard let components = URLComponents(string: trimmed), let scheme = components.scheme?.lowercased() else {
      throw .invalidHub(shown: shown, reason: "it is not a URL (give http://HOST[:PORT][/BASE/])")
    }
    guard scheme == "http" || scheme == "https" else {
      throw .invalidHub(shown: shown, reason: "the scheme must be http or https")
    }
    guard let host = components.host, !host.isEmpty else {
      throw .invalidHub(shown: shown, reason: "it names no host")
    }
    guard components.user == nil, components.password == nil else {
      throw .invalidHub(
        shown: shown, reason: "it holds a user name or password; the token goes in the environment variable")
    }
    guard components.query == nil, components.fragment == nil else {
      throw .invalidHub(
        shown: shown,
        reason: "it has a query or fragment; give the hub's address only (the token goes in the environment)")
    }
    if let port = components.port, !(1...65535).contains(port) {
      throw .invalidHub(shown: shown, reason: "port \(port) is out of range")
    }
    self.scheme = scheme
    self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    self.port = components.port
    var path = components.percentEncodedPath
    if !path.hasPrefix("/") { path = "/" + path }
    if !path.hasSuffix("/") { path += "/" }
    basePath = path
  }

  /// `scheme://host[:port]`, no path.
  public var origin: String {
    "\(scheme)://\(hostForHeader)" + (port.map { ":\($0)" } ?? "")
  }

  /// The host as a Host header writes it (an IPv6 address in brackets).
  var hostForHeader: String { host.contains(":") ? "[\(host)]" : host }

  /// Whether the host is an IP address (TLS then sends no server name).
  var isIPAddress: Bool {
    host.contains(":") || host.split(separator: ".").count == 4 && host.allSatisfy { $0.isNumber || $0 == "." }
  }

  /// The hub's address as given, normalised: origin and base path.
  public var description: String { origin + basePath }

  /// The URL of `path` under the hub's base (`hub/api/`), for HTTP.
  func hubURL(_ path: String) -> String { origin + basePath + path }

  /// The URL of an absolute path the hub handed out (a server's `/user/NAME/`), for HTTP.
  func url(absolutePath path: String) -> String { origin + (path.hasPrefix("/") ? path : "/" + path) }

  /// The input with user info and anything after `?` or `#` cut, for error messages.
  static func withoutSecrets(_ text: String) -> String {
    var shown = text
    if let cut = shown.firstIndex(where: { $0 == "?" || $0 == "#" }) { shown = String(shown[..<cut]) + "…" }
    if let schemeEnd = shown.range(of: "://") {
      let rest = shown[schemeEnd.upperBound...]
      let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
      if let at = rest[..<authorityEnd].lastIndex(of: "@") {
        shown = String(shown[..<schemeEnd.upperBound]) + "…@" + rest[rest.index(after: at)...]
      }
    }
    return shown
  }
}

/// An API token. Never printed: `description` is `***`, and `redact` removes its value from
/// any text that could echo it (an error that quotes a header or a URL).
public struct HubToken: Sendable, CustomStringConvertible {
  let value: String
  /// The environment variable it came from, for messages.
  public let variable: String

  /// The token in the environment variable `variable`, trimmed of surrounding whitespace (a
  /// token read from a file often ends with a newline).
  public init(fromEnvironment environment: [String: String], variable: String) throws(KernelSmokeError) {
    let value = (environment[variable] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    guard !value.isEmpty else { throw .noToken(variable: variable) }
    guard !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
      throw .invalidOption(option: variable, reason: "the token contains control characters")
    }
    self.value = value
    self.variable = variable
  }

  public var description: String { "***" }

  /// `text` with every occurrence of the token replaced by `***`.
  public func redact(_ text: String) -> String {
    text.replacingOccurrences(of: value, with: "***")
  }

  /// The value of the `Authorization` header, as JupyterHub's services send it.
  var authorization: String { "token \(value)" }
}

/// What one run of the kernel smoke test does: which hub, user, kernel and code, and how
/// long each phase may take.
public struct KernelSmokeSettings: Sendable {
  /// The code run when none is given, and what it must print.
  public static let defaultCode = "1+1"
  public static let defaultExpected = "2"

  public var hub: HubAddress
  public var token: HubToken
  /// The user whose server is started; nil means the token's own user.
  public var user: String?
  /// The kernelspec's name (`python3`).
  public var kernel: String
  public var code: String
  /// The expected `text/plain` result (or printed output); nil accepts any result without error.
  public var expected: String?
  /// From asking for the server until it is ready.
  public var spawnTimeout: Duration
  /// From asking for a kernel until it answers kernel_info; and again for running the code.
  public var kernelTimeout: Duration
  /// Leave the user's server running at the end.
  public var keepServer: Bool

  public init(
    hub: HubAddress, token: HubToken, user: String?, kernel: String, code: String, expected: String?,
    spawnTimeout: Duration, kernelTimeout: Duration, keepServer: Bool
  ) throws(KernelSmokeError) {
    if let user {
      guard !user.isEmpty, !user.contains("/"), !user.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
        throw .invalidOption(option: "--user", reason: "'\(user)' is not a JupyterHub user name")
      }
    }
    guard !kernel.isEmpty, !kernel.contains("/"), !kernel.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
      throw .invalidOption(option: "--kernel", reason: "'\(kernel)' is not a kernelspec name")
    }
    guard !code.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
      throw .invalidOption(option: "--code", reason: "the code to run is empty")
    }
    self.hub = hub
    self.token = token
    self.user = user
    self.kernel = kernel
    self.code = code
    self.expected = expected
    self.spawnTimeout = spawnTimeout
    self.kernelTimeout = kernelTimeout
    self.keepServer = keepServer
  }
}
