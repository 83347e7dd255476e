import HuntKit
import Notify
import Testing

@Suite struct NotifyConfigurationTests {
  @Test("notify: reads webhooks (a URL or url_env), formats, commands, on: and timeout:, and confirm_revert")
  func readsDestinations() throws {
    let configuration = try Configuration.parse(
      """
      test: x
      confirm_revert: true
      notify:
        - webhook: {url_env: SLACK_URL}
        - webhook: https://teams.example.org/hook/abc
          format: teams
          on: [culprit, failure]
          timeout: 5s
        - command: ./page.sh
          on: culprit
      """, path: "bisect-deploy.yml")
    #expect(configuration.confirmRevert)
    let destinations = configuration.notify
    #expect(destinations.count == 3)
    #expect(destinations[0].target == .webhook(.variable("SLACK_URL"), format: .slack))
    #expect(destinations[0].triggers == Set(NotifyTrigger.allCases))
    #expect(destinations[0].timeout == .seconds(30))
    #expect(destinations[1].target == .webhook(.url("https://teams.example.org/hook/abc"), format: .teams))
    #expect(destinations[1].triggers == [.culprit, .failure])
    #expect(destinations[1].timeout == .seconds(5))
    #expect(destinations[2].target == .command("./page.sh"))
    // Labels never hold the address.
    #expect(destinations.allSatisfy { !$0.label.contains("example.org") })
    #expect(destinations[0].label == "notify[1] (slack webhook, URL from $SLACK_URL)")
  }

  @Test(
    "a wrong destination names the line and key, and never quotes a URL",
    arguments: [
      ("test: x\nnotify:\n  - webhook: ftp://secret.example.org/x\n", "webhook"),
      ("test: x\nnotify:\n  - webhook: {url_env: 9BAD}\n", "url_env"),
      ("test: x\nnotify:\n  - webhook: {url: https://a.example.org}\n", "url"),
      ("test: x\nnotify:\n  - webhook: https://a.example.org\n    format: xml\n", "format"),
      ("test: x\nnotify:\n  - webhook: https://a.example.org\n    on: [sometimes]\n", "on"),
      ("test: x\nnotify:\n  - command: ./a.sh\n    format: slack\n", "notify[1].format"),
      ("test: x\nnotify:\n  - on: culprit\n", "notify[1]"),
      ("test: x\nnotify:\n  - webhook: https://a.example.org\n    command: ./a.sh\n", "notify[1]"),
      ("test: x\nnotify: https://a.example.org\n", "notify"),
    ])
  func refusesMistakes(text: String, key: String) {
    #expect {
      _ = try Configuration.parse(text, path: "bisect-deploy.yml")
    } throws: { error in
      guard case .invalid(_, _, let named, let problem)? = error as? ConfigurationError else { return false }
      return named == key && !problem.contains("example.org")
    }
  }

  @Test("a url_env whose variable is not set is refused by the check before the first deploy")
  func unsetVariable() throws {
    let configuration = try Configuration.parse(
      "test: x\nnotify:\n  - webhook: {url_env: HOOK}\n", path: "bisect-deploy.yml")
    #expect(throws: ConfigurationError.self) { try configuration.checkNotifications(environment: [:]) }
    try configuration.checkNotifications(environment: ["HOOK": "https://a.example.org"])
  }
}
