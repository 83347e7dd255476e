import HuntReport
import Testing

@Suite("Pull request numbers in commit messages")
struct PullRequestNumberTests {
  @Test(
    "are read from GitHub merges, squash subjects and GitLab merge requests",
    arguments: [
      ("Merge pull request #146 from data-8/generalization-cleanup", 146),
      ("Merge pull request #146 from data-8/generalization-cleanup\n\nGeneralization cleanup\n", 146),
      ("Merge pull request #7 from someone/fix", 7),
      ("Use generic image tags (#123)", 123),
      ("Use generic image tags (#123)  \n\nbody", 123),
      ("Merge branch 'fix' into 'main'\n\nFix it\n\nSee merge request infra/deploy!42", 42),
    ])
  func recognised(message: String, number: Int) {
    #expect(pullRequestNumber(inMessage: message) == number)
  }

  @Test(
    "are absent from ordinary messages and malformed references",
    arguments: [
      "Generalization cleanup",
      "Fix #12 in the culler",
      "Subject\n\nCloses (#99)",
      "Use tags (#)",
      "Use tags (#12a)",
      "Use tags (#0)",
      "Merge pull request # from x",
      "Merge branch 'main' of github.com:data-8/jupyterhub-k8s",
      "Bump (#99999999999999999999)",
      "",
    ])
  func absent(message: String) {
    #expect(pullRequestNumber(inMessage: message) == nil)
  }
}
