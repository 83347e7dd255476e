import HuntStore
import Testing

@Suite("Stored step notes")
struct StepNoteTests {
  @Test("a moved step names the environment whose deploy failed")
  func moved() {
    let note = StepNote("moved: deploy failed from dev2")
    #expect(note.moved)
    #expect(note.movedFrom == "dev2")
    #expect(note.runs.isEmpty && note.others.isEmpty)
  }

  @Test("test runs, moves and other parts are told apart")
  func parts() {
    let runs = StepNote("runs: bad,good,bad")
    #expect(!runs.moved)
    #expect(runs.runs == [.bad, .good, .bad])
    let all = StepNote("moved: deploy failed from dev1; the deploy asked to abort; runs: skip,bad")
    #expect(all.movedFrom == "dev1")
    #expect(all.runs == [.skip, .bad])
    #expect(all.others == ["the deploy asked to abort"])
    #expect(StepNote("stopped").others == ["stopped"])
    #expect(StepNote(nil) == StepNote(""))
    #expect(!StepNote(nil).moved)
  }
}
