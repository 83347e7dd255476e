import Foundation
import GitKit

extension GitError {
  /// libgit2 refused to check out a path of the tree (`.git/config`, `..`), as git does: the
  /// commit itself cannot be deployed, nothing is wrong with the machine.
  var isRefusedPath: Bool {
    if case .libgit2(_, _, let message) = self { return message.contains("invalid path") }
    return false
  }
}

/// One environment's workspace folder, where clean checkouts of candidates are made.
///
/// bisect-deploy cleans its checkout between steps (deleting whatever is not the next
/// commit's), so it must only ever work where it made things: a workspace carries a marker
/// file, written when the tool created the folder, that lists what the tool made in it (the
/// checkout folder and its index's folder; per-step checkouts of earlier versions). A folder without the marker (the user's `./dev/` under
/// `workspace: .`), or a marked one holding anything the marker does not list, is refused
/// before anything is deployed, with the folder named. Only an empty folder is taken over:
/// there is nothing in it to lose.
struct Workspace: Sendable {
  /// The marker's file name inside the workspace.
  static let markerName = ".bisect-deploy-workspace"
  static let markerHeader =
    "This folder was created by bisect-deploy for clean checkouts; it removes the folders listed below between steps."
  private static let entryPrefix = "checkout "

  let folder: URL

  private var marker: URL { folder.appendingPathComponent(Self.markerName) }

  /// Creates the workspace (and the folders above it) when missing, or checks that the
  /// folder there is one this tool created and holds nothing else.
  ///
  /// `inToolFolder`: the workspace is the default one, inside `.git/bisect-deploy`, where
  /// only the tool writes. There, checkouts left by versions before the marker existed
  /// (`step-NNN-<hash>`, `restore-<hash>`, `nightly-<hash>`) are taken as the tool's own.
  static func claim(_ folder: URL, inToolFolder: Bool = false) throws(HuntError) -> Workspace {
    let workspace = Workspace(folder: folder)
    let files = FileManager.default
    var isDirectory: ObjCBool = false
    let exists = files.fileExists(atPath: folder.path, isDirectory: &isDirectory)
    if exists && !isDirectory.boolValue {
      throw .workspace(path: folder.path, reason: "it is a file, not a folder. Choose another 'workspace:'")
    }
    let entries: [String]
    do {
      if !exists { try files.createDirectory(at: folder, withIntermediateDirectories: true) }
      entries = try files.contentsOfDirectory(atPath: folder.path)
    } catch {
      throw .workspace(path: folder.path, reason: error.localizedDescription)
    }
    // Empty, or holding only a marker killed before its rename (the first one is written
    // when the folder is new): nothing of anyone's to lose.
    if entries.allSatisfy({ $0 == freshMarkerName }) {
      try workspace.writeMarker(listing: [])
      return workspace
    }
    if inToolFolder, !entries.contains(markerName),
      entries.allSatisfy({ isEarlierCheckoutName($0) || $0 == freshMarkerName })
    {
      try workspace.writeMarker(listing: entries.filter { $0 != freshMarkerName }.sorted())
      return workspace
    }
    guard entries.contains(markerName) else {
      throw .workspace(
        path: folder.path,
        reason:
          "it was not created by bisect-deploy (no \(markerName) file) and is not empty, so its files could be lost. Choose another 'workspace:' in the configuration, or move the folder away"
      )
    }
    let ours = try workspace.listedCheckouts()
    let foreign = entries.filter { $0 != markerName && $0 != freshMarkerName && !ours.contains($0) }.sorted()
    guard foreign.isEmpty else {
      throw .workspace(
        path: folder.path,
        reason:
          "it holds files bisect-deploy did not make (\(foreign.prefix(3).joined(separator: ", "))\(foreign.count > 3 ? ", …" : "")). Move them away; the tool removes only its own checkouts"
      )
    }
    return workspace
  }

  /// The one checkout folder each workspace keeps, moved from commit to commit.
  static let checkoutName = "checkout"
  /// The folder, beside it, of the checkout's own index (what the last move wrote, and in
  /// `index.tree` the tree it holds) and the index's temporary names while a move is under
  /// way: outside the checkout, where a deploy does not look, and the tool's like the checkout.
  static let checkoutIndexName = "checkout-index"

  /// The workspace's one checkout folder (not necessarily existing yet) and the index file
  /// of its last move, for `Repository.updateCheckout`. Both are listed in the marker before
  /// either is made, so a kill at any moment leaves nothing unlisted; the per-step checkouts
  /// of earlier versions that the marker lists are removed (first use after an upgrade).
  func reusableCheckout() throws(HuntError) -> (folder: URL, indexFile: URL) {
    let kept = [Self.checkoutName, Self.checkoutIndexName]
    let listed = try listedCheckouts()
    if listed != Set(kept) {
      try writeMarker(listing: listed.union(kept).sorted())
      try remove(listed.subtracting(kept))
      try writeMarker(listing: kept)
    }
    let indexFolder = folder.appendingPathComponent(Self.checkoutIndexName)
    do {
      try FileManager.default.createDirectory(at: indexFolder, withIntermediateDirectories: true)
    } catch {
      throw .workspace(path: indexFolder.path, reason: error.localizedDescription)
    }
    return (folder.appendingPathComponent(Self.checkoutName), indexFolder.appendingPathComponent("index"))
  }

  /// Removes the listed checkouts `names` (a name that is not there is fine).
  private func remove(_ names: Set<String>) throws(HuntError) {
    let files = FileManager.default
    for entry in names.sorted() {
      let path = folder.appendingPathComponent(entry)
      guard files.fileExists(atPath: path.path) || (try? files.destinationOfSymbolicLink(atPath: path.path)) != nil
      else { continue }
      do {
        try files.removeItem(at: path)
      } catch {
        throw .workspace(path: path.path, reason: "cannot remove the previous checkout: \(error.localizedDescription)")
      }
    }
  }

  /// The checkout names the marker lists.
  private func listedCheckouts() throws(HuntError) -> Set<String> {
    let text: String
    do {
      text = try String(contentsOf: marker, encoding: .utf8)
    } catch {
      throw .workspace(path: marker.path, reason: "cannot read the workspace marker: \(error.localizedDescription)")
    }
    var names = Set<String>()
    for line in text.split(separator: "\n") where line.hasPrefix(Self.entryPrefix) {
      let name = String(line.dropFirst(Self.entryPrefix.count))
      // Only plain names inside the workspace: a hand-edited marker cannot point elsewhere.
      if Self.isPlainName(name) { names.insert(name) }
    }
    return names
  }

  /// Writes the marker under a name of its own, then renames it over the old one, so that a
  /// kill at any moment leaves either marker whole. (Foundation's atomic write would leave a
  /// temporary file of another name in the workspace, which a later claim could not tell
  /// from the user's.)
  private func writeMarker(listing names: [String]) throws(HuntError) {
    let text = ([Self.markerHeader] + names.map { Self.entryPrefix + $0 }).joined(separator: "\n") + "\n"
    let fresh = folder.appendingPathComponent(Self.freshMarkerName)
    do {
      try Data(text.utf8).write(to: fresh)
      guard rename(fresh.path, marker.path) == 0 else {
        throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: marker.path])
      }
    } catch {
      throw .workspace(path: marker.path, reason: "cannot write the workspace marker: \(error.localizedDescription)")
    }
  }

  /// The marker being written, before its rename: the tool's own too.
  static let freshMarkerName = markerName + ".new"

  /// The names of the checkouts versions before the marker made: `step-007-0123456789`,
  /// `restore-0123456789`, `nightly-0123456789`.
  static func isEarlierCheckoutName(_ name: String) -> Bool {
    let parts = name.split(separator: "-", omittingEmptySubsequences: false)
    let isHash = { (part: Substring) in part.count == 10 && part.allSatisfy(\.isHexDigit) }
    switch (parts.first, parts.count) {
    case ("step", 3): return !parts[1].isEmpty && parts[1].allSatisfy(\.isNumber) && isHash(parts[2])
    case ("restore", 2), ("nightly", 2): return isHash(parts[1])
    default: return false
    }
  }

  static func isPlainName(_ name: String) -> Bool {
    !name.isEmpty && name != "." && name != ".." && name != markerName && name != freshMarkerName
      && !name.contains("/")
  }
}
