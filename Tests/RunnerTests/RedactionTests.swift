import Runner
import Testing

@Suite("Redacting secrets")
struct RedactionTests {
  @Test("secret-looking values are hidden and the rest kept")
  func redaction() {
    let environment = [
      "API_TOKEN": "t0k3n", "DB_PASSWORD": "hunter2", "BISECT_COMMIT": "0123abcd",
      "PATH": "/usr/bin", "aws_secret_access_key": "xyz", "GH_AUTH": "a", "LDAP_PASSWD": "p",
      "SESSION_COOKIE": "c", "SSH_PRIVATE_KEY": "k", "GOOGLE_CREDENTIALS": "j",
    ]
    let redacted = redactedEnvironment(environment)
    #expect(redacted.keys.sorted() == environment.keys.sorted())
    #expect(redacted["BISECT_COMMIT"] == "0123abcd")
    #expect(redacted["PATH"] == "/usr/bin")
    for name in environment.keys where name != "BISECT_COMMIT" && name != "PATH" {
      #expect(redacted[name] == "***", "\(name)")
    }
  }

  @Test(
    "names are matched on any marker, ignoring case",
    arguments: ["api_token", "Db_Password", "MY_KEY", "X_SESSION_ID", "private_stuff"])
  func markersIgnoreCase(name: String) {
    #expect(isSecretVariableName(name))
  }

  @Test("ordinary names are not secret", arguments: ["BISECT_COMMIT", "HOME", "LANG", "PATH"])
  func ordinaryNames(name: String) {
    #expect(!isSecretVariableName(name))
  }
}
