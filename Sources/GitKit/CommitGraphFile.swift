import Foundation
import History

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// git's commit-graph (`objects/info/commit-graph`, or the split chain in
/// `objects/info/commit-graphs/`), read by our own code: libgit2 1.5.1 does not use it for the
/// walks GitKit runs. Gives, for each commit it covers, the parents (as graph positions, so
/// that a walk follows them without hashing), the committer time and the root tree.
///
/// Only a file that is wholly valid is used: signature, version, SHA-1 hash version, chunk
/// table, chunk sizes, sorted ids that agree with the fan-out, parent positions inside the
/// chain, and the trailing SHA-1 checksum. Anything else (missing, unreadable, corrupt, another
/// hash) makes `load` return nil and the caller reads the object database instead. In a chain,
/// the valid layers from the base up are used, as git does when a later layer is damaged.
///
/// Owns the files' bytes (one read each) and frees them in `deinit`. Not `Sendable`.
package final class CommitGraphFile {
  /// When `load` checks the files' SHA-1 checksums.
  package enum Checksums {
    /// Before it returns: a file whose checksum is wrong is refused.
    case first
    /// On another thread, started before it returns, while the caller already reads the
    /// files; `checksumsMatch()` waits for the answer. Every other check still comes first,
    /// so that reading never leaves the files' bounds whatever their bytes.
    case beside
  }

  /// The commits covered, across every layer used.
  package let count: Int
  private let layers: [Layer]
  /// The checksums being computed, with `.beside`.
  private let pending: PendingChecksums?

  private init(layers: [Layer], checksums: Checksums) {
    self.layers = layers
    count = layers.last.map { $0.base + $0.count } ?? 0
    pending = checksums == .beside ? PendingChecksums(layers.map { UnsafeRawBufferPointer($0.bytes) }) : nil
  }

  deinit {
    // The other thread reads the bytes until it is done.
    _ = pending?.wait()
    for layer in layers { layer.bytes.deallocate() }
  }

  /// Whether every file's trailing SHA-1 checksum matches its bytes: true at once for a graph
  /// loaded with `.first`, else it waits for the other thread. A caller that read the graph
  /// before this is true must throw away what it read when it is false.
  package func checksumsMatch() -> Bool { pending?.wait() ?? true }

  /// How many files (layers) are in use: 1 for a single file, more for a split chain.
  package var layerCount: Int { layers.count }

  /// The graph of the object folder `objects` (the repository's `objects/`), or nil when
  /// there is none or it cannot be trusted. A single `commit-graph` file wins over a chain,
  /// as in git.
  package static func load(objectsDirectory objects: String, checksums: Checksums = .first) -> CommitGraphFile? {
    let verify = checksums == .first
    if let single = Layer.load(
      path: objects + "/info/commit-graph", base: 0, baseHashes: [], expected: nil, verify: verify)
    {
      return CommitGraphFile(layers: [single], checksums: checksums)
    }
    let folder = objects + "/info/commit-graphs"
    guard let text = try? String(contentsOfFile: folder + "/commit-graph-chain", encoding: .utf8) else {
      return nil
    }
    var layers = [Layer]()
    var hashes = [[UInt8]]()
    for line in text.split(whereSeparator: \.isNewline) {
      guard let id = ObjectID(hex: line) else { break }
      let hash = id.bytes
      let base = layers.last.map { $0.base + $0.count } ?? 0
      guard
        let layer = Layer.load(
          path: folder + "/graph-\(id.hex).graph", base: base, baseHashes: hashes, expected: hash, verify: verify)
      else { break }
      layers.append(layer)
      hashes.append(hash)
    }
    return layers.isEmpty ? nil : CommitGraphFile(layers: layers, checksums: checksums)
  }

  /// The position of commit `id` in the graph, or nil when the graph does not cover it.
  package func position(of id: ObjectID) -> Int32? {
    for layer in layers.reversed() {
      if let local = layer.find(id) { return Int32(layer.base + local) }
    }
    return nil
  }

  /// The id of the commit at `position` (below `count`).
  package func id(at position: Int32) -> ObjectID {
    let (layer, local) = locate(position)
    return layer.id(at: local)
  }

  /// The root tree of the commit at `position`.
  package func tree(at position: Int32) -> ObjectID {
    let (layer, local) = locate(position)
    return layer.id(atOffset: layer.commitData + local * Layer.commitDataWidth)
  }

  /// The committer time of the commit at `position`: the 34 bits the graph keeps.
  package func commitTime(at position: Int32) -> Int64 {
    let (layer, local) = locate(position)
    let entry = layer.commitData + local * Layer.commitDataWidth + 28
    let high = Int64(layer.word(at: entry) & 0x3)
    return high << 32 | Int64(layer.word(at: entry + 4))
  }

  /// Appends the parents of the commit at `position`, as positions, in order.
  package func appendParents(at position: Int32, to parents: inout [Int32]) {
    let (layer, local) = locate(position)
    let entry = layer.commitData + local * Layer.commitDataWidth + 20
    let first = layer.word(at: entry)
    guard first != Layer.noParent else { return }
    parents.append(Int32(first))
    let second = layer.word(at: entry + 4)
    if second == Layer.noParent { return }
    guard second & Layer.extraEdges != 0 else {
      parents.append(Int32(second))
      return
    }
    // An octopus: the others are listed in the extra-edge chunk, the last one flagged.
    var edge = layer.extraEdgesStart + Int(second & ~Layer.extraEdges) * 4
    while true {
      let value = layer.word(at: edge)
      parents.append(Int32(value & ~Layer.extraEdges))
      if value & Layer.extraEdges != 0 { return }
      edge += 4
    }
  }

  /// The layer holding global `position` and the position inside it (layers are few).
  @inline(__always)
  private func locate(_ position: Int32) -> (Layer, Int) {
    let position = Int(position)
    var index = layers.count - 1
    while index > 0, layers[index].base > position { index -= 1 }
    return (layers[index], position - layers[index].base)
  }
}

/// One commit-graph file, checked and held in memory: a plain view (no reference counting on
/// the walk's path) whose bytes the `CommitGraphFile` owns and frees.
private struct Layer {
  static let commitDataWidth = 36
  static let noParent: UInt32 = 0x7000_0000
  static let extraEdges: UInt32 = 0x8000_0000

  let bytes: UnsafeMutableRawBufferPointer
  private let start: UnsafeRawPointer
  /// Commits in the layers below, whose positions come first.
  let base: Int
  let count: Int
  let fanout: Int
  let lookup: Int
  let commitData: Int
  /// The extra-edge chunk's offset and size (size 0 when there is none).
  let extraEdgesStart: Int
  let extraEdgesSize: Int

  private init(
    bytes: UnsafeMutableRawBufferPointer, base: Int, count: Int, fanout: Int, lookup: Int, commitData: Int,
    extraEdgesStart: Int, extraEdgesSize: Int
  ) {
    self.bytes = bytes
    start = UnsafeRawPointer(bytes.baseAddress!)
    self.base = base
    self.count = count
    self.fanout = fanout
    self.lookup = lookup
    self.commitData = commitData
    self.extraEdgesStart = extraEdgesStart
    self.extraEdgesSize = extraEdgesSize
  }

  // Offsets were checked when the file was loaded: reads go straight to memory.
  @inline(__always)
  func word(at offset: Int) -> UInt32 {
    UInt32(bigEndian: start.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
  }

  @inline(__always)
  func id(atOffset offset: Int) -> ObjectID {
    ObjectID(
      high: UInt64(bigEndian: start.loadUnaligned(fromByteOffset: offset, as: UInt64.self)),
      middle: UInt64(bigEndian: start.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self)),
      low: UInt32(bigEndian: start.loadUnaligned(fromByteOffset: offset + 16, as: UInt32.self)))
  }

  @inline(__always)
  func id(at local: Int) -> ObjectID { id(atOffset: lookup + local * 20) }

  /// Binary search among the ids that share `id`'s first byte.
  func find(_ id: ObjectID) -> Int? {
    let first = Int(id.leadingByte)
    var low = first == 0 ? 0 : Int(word(at: fanout + (first - 1) * 4))
    var high = Int(word(at: fanout + first * 4))
    while low < high {
      let middle = (low + high) / 2
      let found = self.id(at: middle)
      if found == id { return middle }
      if found < id { low = middle + 1 } else { high = middle }
    }
    return nil
  }

  /// Reads and checks the file at `path`; nil when it is missing or not wholly valid.
  /// `base` commits and the `baseHashes` layers lie below it; `expected` is the checksum its
  /// name promises (a chain's layer). Without `verify`, the checksum itself is not computed
  /// (the caller has another thread do it).
  static func load(path: String, base: Int, baseHashes: [[UInt8]], expected: [UInt8]?, verify: Bool) -> Layer? {
    guard let bytes = readWhole(path) else { return nil }
    guard
      let layer = check(bytes, base: base, baseHashes: baseHashes, expected: expected, verify: verify)
    else {
      bytes.deallocate()
      return nil
    }
    return layer
  }

  /// The whole file in memory, read once (not mapped: a file truncated while mapped would
  /// crash the reader).
  private static func readWhole(_ path: String) -> UnsafeMutableRawBufferPointer? {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var status = stat()
    guard fstat(descriptor, &status) == 0, status.st_size > 0, status.st_size < 1 << 40 else { return nil }
    let size = Int(status.st_size)
    let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
    var done = 0
    while done < size {
      let got = read(descriptor, bytes.baseAddress! + done, size - done)
      if got < 0 && errno == EINTR { continue }
      guard got > 0 else {
        bytes.deallocate()
        return nil
      }
      done += got
    }
    return bytes
  }

  /// Whether a file's trailing 20 bytes are the SHA-1 of the bytes before them.
  static func checksumMatches(_ raw: UnsafeRawBufferPointer) -> Bool {
    let end = raw.count - 20
    return raw[end...].elementsEqual(SHA1.digest(UnsafeRawBufferPointer(rebasing: raw[0..<end])))
  }

  /// Validates `bytes` as a commit-graph file (see `CommitGraphFile`) and makes the layer.
  private static func check(
    _ bytes: UnsafeMutableRawBufferPointer, base: Int, baseHashes: [[UInt8]], expected: [UInt8]?, verify: Bool
  ) -> Layer? {
    let raw = UnsafeRawBufferPointer(bytes)
    let size = raw.count
    func word(_ offset: Int) -> UInt32 { UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
    func long(_ offset: Int) -> UInt64 { UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
    func makeID(_ offset: Int) -> ObjectID {
      ObjectID(high: long(offset), middle: long(offset + 8), low: word(offset + 16))
    }

    // Header: "CGPH", version 1, hash version 1 (SHA-1), chunk count, base count.
    guard size >= 8 + 12 + 20, raw[0..<4].elementsEqual("CGPH".utf8), raw[4] == 1, raw[5] == 1 else { return nil }
    let chunkCount = Int(raw[6])
    guard Int(raw[7]) == baseHashes.count else { return nil }
    let end = size - 20
    guard 8 + (chunkCount + 1) * 12 <= end else { return nil }

    // The checksum covers everything before it; a chain layer's name must be that checksum.
    if verify && !checksumMatches(raw) { return nil }
    if let expected, !raw[end..<size].elementsEqual(expected) { return nil }

    // Chunk table: ids with offsets, ended by a zero id whose offset is the end of the last
    // chunk. Offsets must not go backwards nor past the checksum.
    var chunks = [UInt32: (start: Int, size: Int)]()
    let tableEnd = 8 + (chunkCount + 1) * 12
    for index in 0..<chunkCount {
      let entry = 8 + index * 12
      let id = word(entry)
      let start = long(entry + 4)
      let next = long(entry + 16)
      guard id != 0, start >= UInt64(tableEnd), start <= next, next <= UInt64(end), chunks[id] == nil else {
        return nil
      }
      chunks[id] = (Int(start), Int(next - start))
    }
    guard word(8 + chunkCount * 12) == 0 else { return nil }

    func chunk(_ name: String) -> (start: Int, size: Int)? {
      chunks[name.utf8.reduce(0) { $0 << 8 | UInt32($1) }]
    }
    guard let fanout = chunk("OIDF"), fanout.size == 256 * 4,
      let lookup = chunk("OIDL"), let commitData = chunk("CDAT")
    else { return nil }
    // Fan-out counts never decrease; the last one is the number of commits.
    var previous: UInt32 = 0
    for index in 0..<256 {
      let value = word(fanout.start + index * 4)
      guard value >= previous else { return nil }
      previous = value
    }
    let count = Int(previous)
    guard lookup.size == count * 20, commitData.size == count * commitDataWidth, base + count < Int(noParent)
    else { return nil }
    let edges = chunk("EDGE") ?? (start: 0, size: 0)
    guard edges.size % 4 == 0 else { return nil }
    if baseHashes.isEmpty {
      if chunk("BASE") != nil { return nil }
    } else {
      guard let baseList = chunk("BASE"), baseList.size == baseHashes.count * 20 else { return nil }
      for (index, hash) in baseHashes.enumerated() {
        guard raw[(baseList.start + index * 20)..<(baseList.start + index * 20 + 20)].elementsEqual(hash) else {
          return nil
        }
      }
    }

    // Ids strictly increasing and each inside its fan-out bucket, so that `find` finds them.
    var bucketEnd = 0
    var bucket = -1
    for index in 0..<count {
      let offset = lookup.start + index * 20
      let first = Int(raw[offset])
      if first != bucket {
        guard first > bucket else { return nil }
        bucket = first
        bucketEnd = Int(word(fanout.start + first * 4))
      }
      guard index < bucketEnd else { return nil }
      if index > 0 { guard makeID(offset - 20) < makeID(offset) else { return nil } }
      if first > 0 { guard index >= Int(word(fanout.start + (first - 1) * 4)) else { return nil } }
    }

    // Every parent position inside this layer or below, every octopus list inside the
    // extra-edge chunk and ended, so that walking the graph never reads out of bounds.
    let limit = UInt32(base + count)
    let edgeCount = edges.size / 4
    for index in 0..<count {
      let entry = commitData.start + index * commitDataWidth + 20
      let first = word(entry)
      let second = word(entry + 4)
      if first == noParent {
        guard second == noParent else { return nil }
        continue
      }
      guard first < limit else { return nil }
      if second == noParent { continue }
      if second & extraEdges != 0 {
        var edge = Int(second & ~extraEdges)
        while true {
          guard edge < edgeCount else { return nil }
          let value = word(edges.start + edge * 4)
          guard value & ~extraEdges < limit else { return nil }
          if value & extraEdges != 0 { break }
          edge += 1
        }
      } else {
        guard second < limit else { return nil }
      }
    }
    return Layer(
      bytes: bytes, base: base, count: count, fanout: fanout.start, lookup: lookup.start,
      commitData: commitData.start, extraEdgesStart: edges.start, extraEdgesSize: edges.size)
  }
}

/// The SHA-1 checksums of a graph's files, computed on a thread of their own so that a walk
/// need not wait the 10 to 15 ms that 6 MB take before it starts (git does not check them at
/// all when it loads a graph).
///
/// `@unchecked Sendable`: the bytes are only read, by that thread, and their owner frees them
/// only after `wait()` returned; `matches` is written once, before `done` is signalled, and
/// read only after a wait on it, which orders the two. `waited` is the owner's alone.
private final class PendingChecksums: @unchecked Sendable {
  private let files: [UnsafeRawBufferPointer]
  private let done = DispatchSemaphore(value: 0)
  private var matches = false
  private var waited = false

  init(_ files: [UnsafeRawBufferPointer]) {
    self.files = files
    Thread.detachNewThread { [self] in
      matches = self.files.allSatisfy(Layer.checksumMatches)
      done.signal()
    }
  }

  /// Waits, once, for the answer.
  func wait() -> Bool {
    if !waited {
      done.wait()
      waited = true
    }
    return matches
  }
}
