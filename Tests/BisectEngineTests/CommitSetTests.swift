import BisectEngine
import History
import Testing

@Suite struct CommitSetTests {
  @Test(arguments: [1, 63, 64, 65, 130])
  func aFullSetHoldsExactlyItsCapacity(capacity: Int) {
    let set = CommitSet(capacity: capacity, full: true)
    #expect(set.count == capacity)
    #expect(Array(set) == Array(0..<capacity))
    #expect(set.first == 0)
    var emptied = set
    for number in 0..<capacity { emptied.remove(number) }
    #expect(emptied.isEmpty && emptied.first == nil && Array(emptied).isEmpty)
  }

  @Test func iterationIsAscendingEitherWay() {
    var set = CommitSet(capacity: 200)
    let numbers = [0, 5, 63, 64, 127, 128, 199]
    for number in numbers { set.insert(number) }
    #expect(Array(set) == numbers)
    var descending = [Int]()
    set.forEachDescending { descending.append($0) }
    #expect(descending == numbers.reversed())
  }

  @Test(arguments: 1...20)
  func ancestorSetsMatchPlainWalks(seed: Int) {
    var random = SeededGenerator(seed: UInt64(seed))
    let graph = Sketch.random(Int.random(in: 2...300, using: &random), mergeChance: 0.3, using: &random).graph
    let ancestry = Ancestry(graph: graph)
    for number in stride(from: 0, to: graph.count, by: max(1, graph.count / 17)) {
      #expect(Set(graph.ancestorSet(of: number)) == ancestry.ancestors(of: number))
    }
  }
}
