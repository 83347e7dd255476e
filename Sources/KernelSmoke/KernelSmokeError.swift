import Foundation

/// A kernel smoke test that cannot judge any commit because the test itself is set up wrong:
/// the token, the hub's address, the user, the token's rights. These abort a hunt instead of
/// marking a commit bad or skipped, since every commit would get the same answer. Each case
/// says what to fix. The token's value never appears in a message.
public enum KernelSmokeError: Error, Equatable, Sendable {
  /// The environment variable that should hold the token is unset or empty.
  case noToken(variable: String)
  /// `--hub` is not an http(s) URL the test can use; `shown` is the input with any secret
  /// part (user info, query) left out.
  case invalidHub(shown: String, reason: String)
  /// An option's value cannot be used (`--user` with a slash, an empty `--code`).
  case invalidOption(option: String, reason: String)
  /// The hub refused the token itself (HTTP 401 or 403 on `request`).
  case tokenRefused(variable: String, status: Int, request: String)
  /// The token is valid but may not do `action` (HTTP 403 on `request`); `scopes` are the
  /// JupyterHub scopes it needs for it.
  case notAllowed(action: String, status: Int, request: String, scopes: String)
  /// The token belongs to a service, which has no server of its own: the test needs `--user`.
  case userRequired(service: String)
  /// The user does not exist and the token may not create it.
  case unknownUser(String, status: Int)
}

extension KernelSmokeError: LocalizedError {
  public var errorDescription: String? {
    switch self {
    case .noToken(let variable):
      "No token: the environment variable \(variable) is unset or empty. Set it to a JupyterHub API token (a user's, or a service's with the scopes servers and access:servers), or name another variable with --token-env."
    case .invalidHub(let shown, let reason):
      "--hub '\(shown)' cannot be used: \(reason)."
    case .invalidOption(let option, let reason):
      "\(option): \(reason)."
    case .tokenRefused(let variable, let status, let request):
      "The hub refused the token in \(variable) (HTTP \(status) on \(request)): check that it is the token the hub knows (a service's api_token, or a user's token that has not expired)."
    case .notAllowed(let action, let status, let request, let scopes):
      "The token may not \(action) (HTTP \(status) on \(request)): give it the scopes \(scopes) (in Zero to JupyterHub, hub.loadRoles)."
    case .userRequired(let service):
      "The token belongs to the service '\(service)', which has no server of its own: name the test user with --user NAME."
    case .unknownUser(let name, let status):
      "The hub has no user '\(name)' and the token may not create it (HTTP \(status)): create the user, add the scope admin:users, or pass --user with an existing user."
    }
  }
}

/// Why a kernel smoke test failed on the deployed commit: the hub down, a spawn that failed
/// or timed out, a kernel that died, a wrong result. Thrown inside the module, reported as
/// the bad verdict's reason.
struct SmokeFailure: Error, Sendable {
  /// One line for people, naming what went wrong and what came back.
  var reason: String
  /// The phase that failed.
  var phase: Phase

  init(_ phase: Phase, _ reason: String) {
    self.phase = phase
    self.reason = reason
  }
}
