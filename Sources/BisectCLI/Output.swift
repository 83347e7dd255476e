import History

/// Standard output for people. Every `print` in this module lands here instead of
/// `Swift.print`, so that no command can send a control character from repository data (a
/// subject, an author, a path, a branch name) to the terminal raw: they are shown as `^[`
/// and the like (`String.terminalSafe`). Machine output (`--json`) calls `writeJSON`, which
/// writes the encoder's text as it is (it escapes control characters itself).
func print(_ items: Any..., separator: String = " ", terminator: String = "\n") {
  printOut(items.map { "\($0)" }.joined(separator: separator), terminator: terminator)
}

/// `print` for one string, where a type of its own has a `print` (`Summary`).
func printOut(_ text: String, terminator: String = "\n") {
  Swift.print(text.terminalSafe(keepingNewlines: true), terminator: terminator)
}

/// One JSON document or line on standard output, as the encoder wrote it.
func writeJSON(_ text: String) {
  Swift.print(text)
}
