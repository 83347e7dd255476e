import History
import Testing

@Suite struct ObjectIDTests {
  @Test("hex round-trips, in either case, and bad text is refused")
  func hexRoundTrip() throws {
    let hex = "0123456789abcdef0123456789abcdef01234567"
    let id = try #require(ObjectID(hex: hex))
    #expect(id.hex == hex)
    #expect(ObjectID(hex: hex.uppercased()) == id)
    #expect(ObjectID(bytes: id.bytes) == id)
    #expect(id.short() == "0123456")
    #expect(ObjectID(hex: String(hex.dropLast())) == nil)
    #expect(ObjectID(hex: "g" + hex.dropFirst()) == nil)
    #expect(ObjectID(bytes: [UInt8](repeating: 0, count: 19)) == nil)
  }

  @Test("ids order as their bytes do")
  func ordering() throws {
    let low = try #require(ObjectID(hex: "00000000000000000000000000000000000000ff"))
    let high = try #require(ObjectID(hex: "0000000000000001000000000000000000000000"))
    #expect(low < high)
  }
}

@Suite struct CommitGraphTests {
  static func id(_ number: Int) -> ObjectID {
    let digits = String(number, radix: 16)
    return ObjectID(hex: String(repeating: "0", count: 40 - digits.count) + digits)!
  }

  /// 1 <- 2 <- 3 <- 5 (merge of 3 and 4), 1 <- 4; 0 is outside the range (parent of 1).
  static func diamond() -> CommitGraph {
    let commits = [
      CommitGraph.Commit(id: id(5), parents: [id(3), id(4)], commitTime: 50),
      CommitGraph.Commit(id: id(1), parents: [id(0)], commitTime: 10),
      CommitGraph.Commit(id: id(4), parents: [id(1)], commitTime: 40),
      CommitGraph.Commit(id: id(3), parents: [id(2)], commitTime: 30),
      CommitGraph.Commit(id: id(2), parents: [id(1)], commitTime: 20),
    ]
    return CommitGraph(tip: id(5), boundaries: [id(0)], commits: commits)
  }

  @Test("numbers commits children first, newest first among equals, tip first")
  func topological() {
    let graph = Self.diamond()
    #expect(graph.ids == [5, 4, 3, 2, 1].map(Self.id))
    for number in 0..<graph.count {
      for parent in graph.parents(of: number) { #expect(parent > number) }
    }
    let tip = graph.number(of: Self.id(5))!
    #expect(graph.parents(of: tip).map { graph.ids[$0] } == [Self.id(3), Self.id(4)])
    #expect(graph.firstParent(of: graph.number(of: Self.id(1))!) == nil, "its parent is outside")
    #expect(graph.parentCount(of: graph.number(of: Self.id(1))!) == 1)
  }

  @Test("the first-parent chain follows first parents only")
  func chain() {
    let chain = Self.diamond().firstParentChain()
    #expect(chain.ids == [5, 3, 2, 1].map(Self.id))
    #expect(chain.isFirstParent)
    #expect(chain.candidateCount == 4)
  }
}
