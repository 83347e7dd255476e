/// The pull request a commit message names, or nil.
///
/// Recognises GitHub's merge subject ("Merge pull request #146 from data-8/branch"), a squash
/// or rebase subject that ends with "(#123)", and GitLab's "See merge request group/project!42"
/// line. Only the subject is read for the first two, so a "#12" in the body does not count.
public func pullRequestNumber(inMessage message: String) -> Int? {
  let subject = Substring(message.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
    .trimmingASCIIWhitespace()
  let mergePrefix = "Merge pull request #"
  if subject.hasPrefix(mergePrefix) {
    let digits = subject.dropFirst(mergePrefix.count).prefix(while: \.isASCIIDigit)
    if let number = positiveNumber(digits) { return number }
  }
  if subject.hasSuffix(")"), let open = subject.lastIndex(of: "(") {
    let inside = subject[subject.index(after: open)..<subject.index(before: subject.endIndex)]
    if inside.hasPrefix("#"), let number = positiveNumber(inside.dropFirst()) { return number }
  }
  for line in message.split(separator: "\n").reversed() {
    let line = line.trimmingASCIIWhitespace()
    guard line.hasPrefix("See merge request "), let bang = line.lastIndex(of: "!") else { continue }
    if let number = positiveNumber(line[line.index(after: bang)...]) { return number }
  }
  return nil
}

/// A whole run of ASCII digits as a number above zero (no signs, no spaces, no overflow).
private func positiveNumber(_ text: Substring) -> Int? {
  guard !text.isEmpty, text.count <= 9, text.allSatisfy(\.isASCIIDigit), let value = Int(text), value > 0 else {
    return nil
  }
  return value
}

extension Character {
  fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

extension Substring {
  fileprivate func trimmingASCIIWhitespace() -> Substring {
    let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
    guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
      return self[endIndex...]
    }
    return self[first...last]
  }
}
