import Foundation

/// Where the state lives, as `--state`, `state:` or `BISECT_DEPLOY_STATE` give it: a file
/// path (SQLite), or a `postgres://` URL.
public enum StateLocation: Sendable, Hashable, CustomStringConvertible {
  case file(String)
  case postgres(PostgresLocation)

  /// Reads what the user wrote. A URL is checked now, before anything is opened: no password
  /// in it (it would reach command lines, logs and the state itself), known parameters only.
  public init(parsing text: String) throws(StoreError) {
    let lowered = text.lowercased()
    if lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://") {
      self = .postgres(try PostgresLocation(parsing: text))
    } else if text.contains("://") {
      throw .badLocation(
        text, reason: "only postgres:// URLs and file paths are state locations; give a path for an SQLite file")
    } else if text.isEmpty {
      throw .badLocation(text, reason: "it is empty; give a file path or a postgres:// URL")
    } else {
      self = .file(text)
    }
  }

  /// The path, or the URL as given (it holds no password).
  public var description: String {
    switch self {
    case .file(let path): path
    case .postgres(let location): location.description
    }
  }
}

/// A PostgreSQL database for the state: `postgres://USER@HOST:PORT/DATABASE?sslmode=…&schema=…`.
///
/// The password never comes from the URL: `PGPASSWORD`, else the password file
/// (`PGPASSFILE`, else `~/.pgpass`, used only when its owner alone can read it, as libpq
/// does).
public struct PostgresLocation: Sendable, Hashable, CustomStringConvertible {
  /// How the connection uses TLS, with libpq's words.
  public enum TLSMode: String, Sendable, Hashable, CaseIterable {
    /// No TLS.
    case disable
    /// TLS when the server offers it, without checking its certificate (libpq's default).
    case prefer
    /// TLS always, without checking the certificate.
    case require
    /// TLS always; the certificate must chain to a trusted root.
    case verifyCA = "verify-ca"
    /// TLS always; the certificate must chain to a trusted root and name the host.
    case verifyFull = "verify-full"
  }

  public var user: String
  public var host: String
  public var port: Int
  public var database: String
  public var tls: TLSMode
  /// The PostgreSQL schema holding the tables (default `bisect_deploy`): several teams, or
  /// tests, may share one database.
  public var schema: String
  /// The URL as the user wrote it.
  public var given: String

  public static let defaultSchema = "bisect_deploy"

  /// `text` with everything between `://` and the last `@` shown as `***`: a URL that does not
  /// parse may still hold a password (one with `#`, `/` or `?` in it), and messages quote it.
  public static func maskingCredentials(_ text: String) -> String {
    guard let scheme = text.range(of: "://"), let at = text.range(of: "@", options: .backwards),
      at.lowerBound >= scheme.upperBound
    else { return text }
    return String(text[..<scheme.upperBound]) + "***" + String(text[at.lowerBound...])
  }

  public init(parsing text: String, environment: [String: String] = ProcessInfo.processInfo.environment)
    throws(StoreError)
  {
    given = text
    guard let components = URLComponents(string: text), components.scheme != nil else {
      throw .badLocation(
        Self.maskingCredentials(text), reason: "it is not a URL of the form postgres://USER@HOST:PORT/DATABASE")
    }
    if components.password != nil {
      let shown = Self.maskingCredentials(text)
      throw .badLocation(
        shown,
        reason:
          "it holds a password, which would reach command lines, logs and the state itself; remove it and set PGPASSWORD or a ~/.pgpass line instead"
      )
    }
    guard let host = components.host, !host.isEmpty else {
      throw .badLocation(text, reason: "it names no host; write postgres://USER@HOST:PORT/DATABASE")
    }
    self.host = host
    if let port = components.port {
      guard (1...65535).contains(port) else { throw .badLocation(text, reason: "the port \(port) is out of range") }
      self.port = port
    } else {
      port = 5432
    }
    let user = components.user ?? environment["PGUSER"] ?? environment["USER"] ?? ""
    guard !user.isEmpty else {
      throw .badLocation(text, reason: "it names no user; write postgres://USER@HOST/DATABASE")
    }
    self.user = user
    let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
    guard !path.contains("/") else {
      throw .badLocation(text, reason: "the database name '\(path)' holds a '/'")
    }
    database = path.isEmpty ? user : path
    tls = .prefer
    schema = Self.defaultSchema
    for item in components.queryItems ?? [] {
      let value = item.value ?? ""
      switch item.name {
      case "sslmode":
        guard let mode = TLSMode(rawValue: value) else {
          throw .badLocation(
            text, reason: "sslmode '\(value)' is not one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))"
          )
        }
        tls = mode
      case "schema":
        guard Self.isPlainIdentifier(value) else {
          throw .badLocation(
            text, reason: "schema '\(value)' must be lowercase letters, digits and '_', starting with a letter or '_'")
        }
        schema = value
      default:
        throw .badLocation(text, reason: "unknown parameter '\(item.name)' (known: sslmode, schema)")
      }
    }
  }

  public var description: String { given }

  /// A name PostgreSQL takes as it is, without quotes: what schema names are kept to.
  static func isPlainIdentifier(_ text: String) -> Bool {
    guard let first = text.unicodeScalars.first, text.utf8.count <= 63 else { return false }
    let letters = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyz_")
    let rest = letters.union(CharacterSet(charactersIn: "0123456789"))
    return letters.contains(first) && text.unicodeScalars.allSatisfy { rest.contains($0) }
  }

  /// The password for this location: `PGPASSWORD`, else the first matching line of the
  /// password file. Nil when there is none (the server may not ask for one).
  public func password(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
    if let password = environment["PGPASSWORD"] { return password }
    guard let file = passwordFile(environment: environment) else { return nil }
    return PasswordFile.lookup(in: file, host: host, port: port, database: database, user: user)
  }

  /// The password file to read, when it exists and only its owner can read it.
  func passwordFile(environment: [String: String]) -> String? {
    let path =
      environment["PGPASSFILE"]
      ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.pgpass"
    var info = stat()
    guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
    // libpq ignores a password file others can read; so do we.
    guard info.st_mode & 0o077 == 0 else { return nil }
    return path
  }
}

/// libpq's password file: `hostname:port:database:username:password` lines, `*` matching
/// anything, `\:` and `\\` escaping, `#` starting a comment.
enum PasswordFile {
  static func lookup(in path: String, host: String, port: Int, database: String, user: String) -> String? {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
    for line in text.split(whereSeparator: \.isNewline) {
      if line.hasPrefix("#") { continue }
      let fields = split(String(line))
      guard fields.count == 5 else { continue }
      let wanted = [host, String(port), database, user]
      if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
    }
    return nil
  }

  /// Splits on unescaped `:`, undoing `\:` and `\\`.
  static func split(_ line: String) -> [String] {
    var fields = [String]()
    var current = ""
    var escaped = false
    for character in line {
      if escaped {
        current.append(character)
        escaped = false
      } else if character == "\\" {
        escaped = true
      } else if character == ":" && fields.count < 4 {
        fields.append(current)
        current = ""
      } else {
        current.append(character)
      }
    }
    fields.append(current)
    return fields
  }
}
