// libFuzzer target: a step's stored note (`steps.note`) as `StepNote(_:)` reads it, and the
// round trips the hunt relies on when it resumes. Built and run by Benchmarks/fuzz/run.sh.
//
// The first byte picks the mode:
// - even: the rest is a stored note; reading what `text(withRuns:)` writes back must give
//   the same note (with the runs dropped when they are not written);
// - odd: the rest builds a note the way `HuntSession.row(for:)` does (a valid environment name,
//   the runs, at most one abort reason); reading its text back must give the move, the runs
//   and the abort reason as `HuntSession.record(from:)` rebuilds it (Sources/HuntKit/StepRows.swift).
import Foundation
import FuzzDriver
import History
import HuntStore

@main struct FuzzStepNote {
  static func main() { runFuzzer() }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzStepNote(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  guard size > 0 else {
    _ = StepNote(nil)
    return 0
  }
  let bytes = UnsafeBufferPointer(start: data, count: size)
  if bytes[0] % 2 == 0 {
    readStored(String(decoding: bytes.dropFirst(), as: UTF8.self))
  } else {
    buildAndRead(Array(bytes.dropFirst()))
  }
  return 0
}

func readStored(_ text: String) {
  let note = StepNote(text)
  _ = note.moved
  let withRuns = note.text(withRuns: true)
  if StepNote(withRuns) != note {
    fatalError("note '\(text)' read as \(note), written '\(withRuns ?? "nil")', read back as \(StepNote(withRuns))")
  }
  // Without the runs, a note whose other parts are all empty is written as "", which reads back
  // as no part at all: harmless, so empty parts are left out of this comparison.
  var withoutRuns = note
  withoutRuns.runs = []
  withoutRuns.others.removeAll(where: \.isEmpty)
  let written = note.text(withRuns: false)
  var readBack = StepNote(written)
  readBack.others.removeAll(where: \.isEmpty)
  if readBack != withoutRuns {
    fatalError("note '\(text)' without runs written '\(written ?? "nil")', read back as \(StepNote(written))")
  }
}

/// Layout: [flags] [name length] [name bytes] [run count] [runs…] [reason bytes…].
/// Bit 0 of flags: moved; bit 1: an abort reason; bit 2: "stopped" instead of a reason.
func buildAndRead(_ bytes: [UInt8]) {
  var reader = ByteReader(bytes)
  let flags = reader.byte()
  let nameLength = Int(reader.byte() % 16)
  // Environment names are letters, digits, '.', '_' and '-' (Configuration checks them).
  let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
  var name = String((0..<nameLength).map { _ in alphabet[Int(reader.byte()) % alphabet.count] })
  if name.isEmpty || name == "." || name == ".." { name = "dev" }
  let runs = (0..<Int(reader.byte() % 8)).map { _ in Verdict.allCases[Int(reader.byte()) % Verdict.allCases.count] }
  var note = StepNote(movedFrom: flags & 1 != 0 ? name : nil, runs: runs)
  if flags & 4 != 0 {
    note.others.append("stopped")
  } else if flags & 2 != 0 {
    note.others.append(String(decoding: reader.rest(), as: UTF8.self))
  }
  // A reason with a part that starts like a moved or runs part is read as one: by design, and no
  // reason the tool writes does.
  let reserved = [StepNote.movedPrefixText, StepNote.runsPrefixText]
  if !strict,
    note.others.contains(where: { reason in
      reason.components(separatedBy: "; ").contains { part in reserved.contains { part.hasPrefix($0) } }
    })
  {
    return
  }
  // A reason that starts with a combining mark joins the space of "; " before it into one
  // Character, and the Character-based split no longer sees the separator: finding 6.
  if !strict, note.others.contains(where: { ("; " + $0).count != $0.count + 2 }) { return }
  let withRuns = flags & 8 != 0
  let written = note.text(withRuns: withRuns)
  let read = StepNote(written)
  var expected = note
  if !withRuns { expected.runs = [] }
  // What replay needs: moved, the runs, and the abort reason. An abort reason that holds "; "
  // (a StoreError message does) reads back as several parts; `HuntSession.record(from:)` joins
  // them again with "; ", so the reason is compared as that join (finding 4, fixed there;
  // regression seed corpus/fuzz-step-note/fixed-abort-reason-with-semicolon).
  let sameReason = read.others.joined(separator: "; ") == expected.others.joined(separator: "; ")
  if read.movedFrom != expected.movedFrom || read.runs != expected.runs || !sameReason {
    fatalError("step note \(expected) written as '\(written ?? "nil")' reads back as \(read)")
  }
}

extension StepNote {
  // Sources/HuntStore/Records.swift: `movedPrefix` and `runsPrefix` (internal).
  static let movedPrefixText = "moved: deploy failed"
  static let runsPrefixText = "runs: "
}

let strict = ProcessInfo.processInfo.environment["FUZZ_STRICT"] != nil

struct ByteReader {
  var bytes: ArraySlice<UInt8>
  init(_ bytes: [UInt8]) { self.bytes = bytes[...] }
  mutating func byte() -> UInt8 { bytes.popFirst() ?? 0 }
  mutating func rest() -> ArraySlice<UInt8> {
    defer { bytes = [] }
    return bytes
  }
}
