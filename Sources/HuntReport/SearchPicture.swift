import Foundation
import History

// The picture of the search: the candidate range as a timeline, oldest on the left and the bad
// commit on the right. First-parent commits sit on the main lane; side-branch commits on lanes
// above and below it, a pull request's commits on one lane. Each step is a numbered marker
// coloured by its verdict; markers that would overlap are stacked with a leader line to their
// commit, so numbers stay readable when the last steps test neighbours in a range of thousands.

/// Colours of the verdicts, shared by the picture, the legend and the steps table.
func verdictColour(_ verdict: StepEnd) -> String {
  switch verdict {
  case .good: "#2e7d32"
  case .bad: "#c62828"
  case .skip: "#e09b00"
  case .abort, .stopped: "#7b7b7b"
  }
}

/// The colour of a step whose deploy failed and that moved to another environment: its
/// stored `skip` is not the commit's verdict, so it must not look like one.
let movedColour = "#5c6bc0"

/// The colour of a step's marker and verdict badge.
func stepColour(_ step: StepSummary) -> String {
  step.moved ? movedColour : verdictColour(step.verdict)
}

/// The widest the picture gets; beyond it commits are drawn closer together.
let maximumPictureWidth = 2400.0

private let leftMargin = 36.0
private let rightMargin = 56.0
private let widestSpacing = 28.0
private let laneGap = 26.0
private let markerRadius = 8.0
private let stackGap = 19.0
private let maximumSideLanes = 6

/// The inline `<svg>` element of the picture (one element, no external references).
func searchPicture(_ summary: HuntSummary) -> String {
  let timeline = summary.timeline
  guard !timeline.isEmpty else {
    return
      "<svg xmlns='http://www.w3.org/2000/svg' class='search' width='360' height='40' viewBox='0 0 360 40' "
      + "role='img' aria-label='No candidate range to draw'><text x='8' y='24' class='note'>"
      + "No candidate range to draw.</text></svg>"
  }
  let count = timeline.count
  let spacing =
    count > 1 ? min(widestSpacing, (maximumPictureWidth - leftMargin - rightMargin) / Double(count - 1)) : 0
  let width = max(360, leftMargin + spacing * Double(count - 1) + rightMargin)
  // Children first in, oldest first on the page.
  let xs = (0..<count).map { leftMargin + spacing * Double(count - 1 - $0) }
  let lanes = sideLanes(timeline)
  let ys = lanes.map(laneY)
  var bounds = (minY: -markerRadius - 4, maxY: markerRadius + 4)
  for y in ys {
    bounds.minY = min(bounds.minY, y - markerRadius - 4)
    bounds.maxY = max(bounds.maxY, y + markerRadius + 4)
  }

  var body = ""
  body.reserveCapacity(count * 160)

  // Edges. The first-parent line is one segment; every other parent link is a curve.
  let mainIndexes = (0..<count).filter { timeline[$0].isFirstParent }
  if let newest = mainIndexes.first, let oldest = mainIndexes.last, newest != oldest {
    body += "<line class='main-lane' x1='\(n(xs[oldest]))' y1='0' x2='\(n(xs[newest]))' y2='0' "
    body += "stroke='#9aa5b1' stroke-width='2'/>"
  }
  body += "<g class='edges' fill='none' stroke='#b8c0c8' stroke-width='1.2'>"
  for child in 0..<count {
    for (order, parent) in timeline[child].parents.enumerated() where parent > child && parent < count {
      if order == 0 && timeline[child].isFirstParent && timeline[parent].isFirstParent { continue }
      let (x1, y1, x2, y2) = (xs[parent], ys[parent], xs[child], ys[child])
      if y1 == y2 {
        body += "<line x1='\(n(x1))' y1='\(n(y1))' x2='\(n(x2))' y2='\(n(y2))'/>"
      } else {
        let middle = (x1 + x2) / 2
        body += "<path d='M\(n(x1)) \(n(y1))C\(n(middle)) \(n(y1)) \(n(middle)) \(n(y2)) \(n(x2)) \(n(y2))'/>"
      }
    }
  }
  body += "</g>"

  // Every commit as a small dot with its hash and subject on hover.
  let dotRadius = min(3, max(1, spacing * 0.4))
  body += "<g class='commits' fill='#9aa5b1'>"
  for index in 0..<count {
    let commit = timeline[index]
    body += "<circle cx='\(n(xs[index]))' cy='\(n(ys[index]))' r='\(n(dotRadius))'>"
    body += "<title>\(htmlEscaped(commit.shortHash)) \(htmlEscaped(commit.subject))</title></circle>"
  }
  body += "</g>"

  // Steps: one numbered marker each, stacked away from their lane when they would overlap.
  var indexOfHash: [String: Int] = [:]
  for (index, commit) in timeline.enumerated() where indexOfHash[commit.hash] == nil {
    indexOfHash[commit.hash] = index
  }
  let drawn = summary.steps.compactMap { step in indexOfHash[step.hash].map { (step, $0) } }
    .sorted { xs[$0.1] != xs[$1.1] ? xs[$0.1] < xs[$1.1] : $0.0.number < $1.0.number }
  var placed: [(x: Double, lane: Int, level: Int)] = []
  var markerCentre: [Int: (x: Double, y: Double)] = [:]  // step number -> where its marker is
  var markers = ""
  // Leader lines go under every marker, so that they never cross out the number of a marker
  // below (a commit tested again: moved to another environment, or confirmed).
  var leaders = "<g class='leaders'>"
  for (step, index) in drawn {
    let x = xs[index]
    let lane = lanes[index]
    var level = 0
    while placed.contains(where: { $0.lane == lane && $0.level == level && abs($0.x - x) < markerRadius * 2 + 1 }) {
      level += 1
    }
    placed.append((x, lane, level))
    let direction = lane > 0 && lane % 2 == 0 ? 1.0 : -1.0  // lanes below stack downwards
    let y = ys[index] + direction * stackGap * Double(level)
    markerCentre[step.number] = (x, y)
    bounds.minY = min(bounds.minY, y - markerRadius - 4)
    bounds.maxY = max(bounds.maxY, y + markerRadius + 4)
    let colour = stepColour(step)
    let said =
      step.moved && !step.environment.isEmpty ? "deploy failed in \(step.environment), moved" : verdictWord(step)
    markers +=
      "<g class='step \(step.moved ? "moved" : "verdict-\(step.verdict.word)")' data-step='\(step.number)'>"
    markers += "<title>Step \(step.number): \(htmlEscaped(step.shortHash)) \(htmlEscaped(step.subject)) "
    markers += "(\(htmlEscaped(said)))</title>"
    if level > 0 {
      leaders += "<line x1='\(n(x))' y1='\(n(ys[index]))' x2='\(n(x))' y2='\(n(y))' stroke='\(colour)' "
      leaders += "stroke-width='1'/><circle cx='\(n(x))' cy='\(n(ys[index]))' r='2' fill='\(colour)'/>"
    }
    // A moved step is hollow and dashed: the commit was tested by a later step elsewhere.
    markers += "<circle class='marker' cx='\(n(x))' cy='\(n(y))' r='\(n(markerRadius))' "
    markers +=
      step.moved
      ? "fill='#ffffff' stroke='\(colour)' stroke-width='1.5' stroke-dasharray='3 2'/>"
      : "fill='\(colour)' stroke='#ffffff' stroke-width='1.5'/>"
    let fontSize = step.number >= 100 ? 7 : step.number >= 10 ? 8.5 : 10
    markers += "<text class='step-number' x='\(n(x))' y='\(n(y + fontSize * 0.35))' "
    markers += "font-size='\(n(fontSize))' text-anchor='middle' fill='\(step.moved ? colour : "#ffffff")'>"
    markers += "\(step.number)</text></g>"
  }
  body += leaders + "</g>" + markers

  // The culprit (and the other possible culprits): a ring, and a label in a band above
  // everything else with a leader line down to the ring, so it never covers a marker.
  var suspects: [(commit: CommitDetails, isCulprit: Bool)] = summary.otherPossibleCulprits.map { ($0, false) }
  if let culprit = summary.culprit { suspects.append((culprit, summary.outcome == .culprit)) }
  let ringRadius = markerRadius + 4.5
  let rings = suspects.compactMap { commit, isCulprit -> (CommitDetails, Bool, Double, Double)? in
    guard let index = indexOfHash[commit.hash] else { return nil }
    let lastStep = drawn.last { $0.1 == index }?.0
    let centre = lastStep.flatMap { markerCentre[$0.number] } ?? (xs[index], ys[index])
    return (commit, isCulprit, centre.x, centre.y)
  }
  let labelY = bounds.minY - 8
  if !rings.isEmpty { bounds.minY = labelY - 12 }
  for (commit, isCulprit, x, y) in rings {
    let anchor = x < leftMargin + 40 ? "start" : x > width - rightMargin - 30 ? "end" : "middle"
    let label = isCulprit ? "culprit \(commit.shortHash)" : "maybe \(commit.shortHash)"
    let dash = isCulprit ? "" : " stroke-dasharray='4 3'"
    body += "<g class='\(isCulprit ? "culprit" : "possible-culprit")'><title>"
    body += "\(isCulprit ? "Culprit" : "Possible culprit"): \(htmlEscaped(commit.shortHash)) "
    body += "\(htmlEscaped(commit.subject))</title>"
    body += "<circle class='culprit-ring' cx='\(n(x))' cy='\(n(y))' r='\(n(ringRadius))' "
    body += "fill='none' stroke='#4a148c' stroke-width='2.5'\(dash)/>"
    if y - ringRadius > labelY + 3 {
      body += "<line x1='\(n(x))' y1='\(n(labelY + 3))' x2='\(n(x))' y2='\(n(y - ringRadius))' stroke='#4a148c' "
      body += "stroke-width='1'\(dash)/>"
    }
    body += "<text x='\(n(x))' y='\(n(labelY))' text-anchor='\(anchor)' font-size='11' "
    body += "font-weight='bold' fill='#4a148c'>\(htmlEscaped(label))</text></g>"
  }

  // A date axis under the lanes, labels at least 110 px apart.
  let axisY = bounds.maxY + 14
  body += "<g class='axis' font-size='10' fill='#5f6b76'>"
  body += "<line x1='\(n(leftMargin))' y1='\(n(axisY))' x2='\(n(width - rightMargin))' y2='\(n(axisY))' "
  body += "stroke='#d0d6dc' stroke-width='1'/>"
  var lastLabelX = -Double.infinity
  var lastDay = ""
  for index in stride(from: count - 1, through: 0, by: -1) {
    let day = dayText(timeline[index].date)
    let x = xs[index]
    guard day != lastDay, x - lastLabelX >= 110, x + 60 <= width else { continue }
    lastDay = day
    lastLabelX = x
    body += "<line x1='\(n(x))' y1='\(n(axisY))' x2='\(n(x))' y2='\(n(axisY + 4))' stroke='#d0d6dc'/>"
    body += "<text x='\(n(x))' y='\(n(axisY + 15))' text-anchor='start'>\(day)</text>"
  }
  body += "</g>"
  bounds.maxY = axisY + 22

  let top = bounds.minY - 6
  let height = bounds.maxY - top
  let description = "The search over \(count) commits: oldest on the left, the bad commit on the right."
  return "<svg xmlns='http://www.w3.org/2000/svg' class='search' width='\(n(width))' height='\(n(height))' "
    + "viewBox='0 \(n(top)) \(n(width)) \(n(height))' role='img' aria-label='\(description)' "
    + "font-family='system-ui, sans-serif'>"
    + "<title>\(description)</title>"
    + body + "</svg>"
}

/// The lane of each commit: 0 for the first-parent history, then 1 (above), 2 (below), 3
/// (above, further out)… A side commit continues its first parent's lane when it is the first
/// to do so (a pull request stays on one row); otherwise it takes the lowest lane that is free
/// from its fork point on. Lanes are freed once the newest child of their last commit is passed.
private func sideLanes(_ timeline: [TimelineCommit]) -> [Int] {
  let count = timeline.count
  var children = [[Int]](repeating: [], count: count)
  for (child, commit) in timeline.enumerated() {
    for parent in commit.parents where parent > child && parent < count { children[parent].append(child) }
  }
  // Position 0 is the oldest commit.
  let position = { (index: Int) in count - 1 - index }
  var lanes = [Int](repeating: 0, count: count)
  var continued = [Bool](repeating: false, count: count)
  var busyUntil = [Int](repeating: -1, count: maximumSideLanes + 1)
  for index in stride(from: count - 1, through: 0, by: -1) where !timeline[index].isFirstParent {
    let firstParent = timeline[index].parents.first.flatMap { $0 > index && $0 < count ? $0 : nil }
    var lane = 0
    if let parent = firstParent, lanes[parent] != 0, !continued[parent] {
      lane = lanes[parent]
      continued[parent] = true
    } else {
      let start = firstParent.map(position) ?? position(index)
      lane =
        (1...maximumSideLanes).first { busyUntil[$0] <= start }
        ?? (1...maximumSideLanes).min { busyUntil[$0] < busyUntil[$1] }!
    }
    lanes[index] = lane
    let end = children[index].map(position).max() ?? position(index)
    busyUntil[lane] = max(busyUntil[lane], end)
  }
  return lanes
}

private func laneY(_ lane: Int) -> Double {
  guard lane > 0 else { return 0 }
  let distance = Double((lane + 1) / 2) * laneGap
  return lane % 2 == 1 ? -distance : distance
}

/// A coordinate with at most one decimal.
private func n(_ value: Double) -> String {
  let tenths = Int((value * 10).rounded())
  if tenths % 10 == 0 { return "\(tenths / 10)" }
  return oneDecimal(value)
}
