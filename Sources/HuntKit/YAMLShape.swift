import CYaml

/// A look at a YAML document's shape before Yams builds anything from it (libyaml's events, as
/// Yams reads them): a configuration's keys are plain words, so a key that is an alias or a
/// collection is refused, and a document whose aliases would expand to more than `nodeLimit`
/// nodes (a "billion laughs") is refused before it is expanded. Building and hashing such a key
/// takes time exponential in the file's size: 455 bytes took over a minute.
enum YAMLShape {
  /// The most nodes a configuration may expand to, aliases counted as what they stand for.
  static let nodeLimit = 100_000

  struct Problem: Error {
    /// 1-based.
    var line: Int
    var text: String
  }

  /// The first problem in `text`, or nil. A syntax error is left to Yams, which says it better.
  static func check(_ text: String) -> Problem? {
    var parser = yaml_parser_t()
    guard yaml_parser_initialize(&parser) == 1 else { return nil }
    defer { yaml_parser_delete(&parser) }
    let bytes = Array(text.utf8)
    return bytes.withUnsafeBufferPointer { buffer in
      yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
      return walk(&parser)
    }
  }

  /// A collection being read: whether it is a mapping, how many children it has so far, its
  /// expanded size, and its anchor.
  private struct Frame {
    var isMapping: Bool
    var children = 0
    var size = 1
    var anchor: String?
  }

  private static func walk(_ parser: inout yaml_parser_t) -> Problem? {
    var stack = [Frame]()
    var anchors = [String: Int]()
    while true {
      var event = yaml_event_t()
      guard yaml_parser_parse(&parser, &event) == 1 else { return nil }
      defer { yaml_event_delete(&event) }
      let line = Int(event.start_mark.line) + 1
      // In a mapping, every other child is a key.
      let isKey = stack.last.map { $0.isMapping && $0.children % 2 == 0 } ?? false
      var finished: (size: Int, anchor: String?)?
      switch event.type {
      case YAML_STREAM_END_EVENT:
        return nil
      case YAML_SCALAR_EVENT:
        finished = (1, string(event.data.scalar.anchor))
      case YAML_ALIAS_EVENT:
        let name = string(event.data.alias.anchor) ?? ""
        if isKey { return Problem(line: line, text: "an alias (*\(name)) is used as a key; keys must be plain words") }
        finished = (anchors[name] ?? 1, nil)
      case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
        if isKey { return Problem(line: line, text: "a list or mapping is used as a key; keys must be plain words") }
        let anchor =
          event.type == YAML_SEQUENCE_START_EVENT
          ? string(event.data.sequence_start.anchor) : string(event.data.mapping_start.anchor)
        stack.append(Frame(isMapping: event.type == YAML_MAPPING_START_EVENT, anchor: anchor))
      case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
        guard let frame = stack.popLast() else { return nil }
        finished = (frame.size, frame.anchor)
      default:
        break
      }
      guard let (size, anchor) = finished else { continue }
      if let anchor { anchors[anchor] = size }
      if size > nodeLimit || (stack.last.map { $0.size + size > nodeLimit } ?? false) {
        return Problem(
          line: line, text: "its aliases expand to more than \(nodeLimit) values; a configuration needs far fewer")
      }
      if !stack.isEmpty {
        stack[stack.count - 1].size += size
        stack[stack.count - 1].children += 1
      }
    }
  }

  private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
    pointer.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
  }
}
