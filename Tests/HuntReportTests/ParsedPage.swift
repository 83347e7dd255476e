import Foundation

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// An HTML report read back with Foundation's XML parser: its elements in document order,
/// each with its attributes and the text directly inside it.
struct ParsedPage {
  struct Element {
    var name: String
    var attributes: [String: String]
    var text: String
    /// Names of the enclosing elements, outermost first.
    var ancestors: [String]
  }

  var elements: [Element] = []
  var error: String?

  init(_ html: String) {
    let collector = Collector()
    let parser = XMLParser(data: Data(html.utf8))
    parser.delegate = collector
    if !parser.parse() {
      error = parser.parserError.map { "\($0)" } ?? "unknown parse error"
      if let line = Optional(parser.lineNumber) { error! += " at line \(line), column \(parser.columnNumber)" }
    }
    elements = collector.elements
  }

  func all(_ name: String) -> [Element] { elements.filter { $0.name == name } }

  /// The text of every element, joined (entities decoded by the parser).
  var allText: String { elements.map(\.text).joined(separator: " ") }
}

private final class Collector: NSObject, XMLParserDelegate {
  var elements: [ParsedPage.Element] = []
  private var open: [Int] = []

  func parser(
    _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
    attributes: [String: String]
  ) {
    let ancestors = open.map { elements[$0].name }
    elements.append(.init(name: elementName, attributes: attributes, text: "", ancestors: ancestors))
    open.append(elements.count - 1)
  }

  func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
    open.removeLast()
  }

  func parser(_ parser: XMLParser, foundCharacters string: String) {
    if let current = open.last { elements[current].text += string }
  }
}
