/// Words that mark an environment variable's value as secret, matched case-insensitively
/// anywhere in its name.
public let secretNameMarkers = [
  "SECRET", "TOKEN", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL", "AUTH", "COOKIE", "SESSION",
  "PRIVATE",
]

/// Whether the value of the environment variable `name` must not be printed: true when the
/// name contains one of `secretNameMarkers`, ignoring case (`API_TOKEN`, `db_password`,
/// `SSH_PRIVATE_KEY`).
public func isSecretVariableName(_ name: String) -> Bool {
  let upper = name.uppercased()
  return secretNameMarkers.contains { upper.contains($0) }
}

/// A copy of `environment` that is safe to print in logs: the value of every variable whose
/// name `isSecretVariableName` flags is replaced by `***`; names are kept.
public func redactedEnvironment(_ environment: [String: String]) -> [String: String] {
  environment.reduce(into: [:]) { copy, entry in
    copy[entry.key] = isSecretVariableName(entry.key) ? "***" : entry.value
  }
}
