import Foundation
import GitKit
import History
import HuntStore

/// Where the dependencies' histories are opened: a local clone as it is (read only), a
/// `url:` in the tool's own folder (`.git/bisect-deploy/dependencies/NAME/`), cloned or
/// fetched only when network access is allowed.
///
/// The tool deletes only what it created there: the folder carries a marker file,
/// `.bisect-deploy-dependency`, written before the clone, naming the URL and the one
/// folder the tool made in it (`clone.git`). A folder at that place without the marker, or
/// holding anything else, is refused, never emptied.
package enum DependencyHistory {
  static let markerName = ".bisect-deploy-dependency"
  static let cloneName = "clone.git"
  private static let markerHeader =
    "This folder was created by bisect-deploy for a dependency's history; it replaces the clone listed below when needed."

  /// The tool's folder for dependency `name`'s clone.
  static func folder(gitDirectory: String, name: String) -> URL {
    Configuration.stateFolder(gitDirectory).appendingPathComponent("dependencies").appendingPathComponent(name)
  }

  /// Opens every dependency's history, cloning or fetching `url:` ones when `allowNetwork`;
  /// without it, an earlier clone is used as it is and a missing one is refused.
  ///
  /// - Throws: `HuntError.dependencyRepository` (not a repository), `.dependencyFetch` (a
  ///   clone or fetch failed), `.configuration` (a URL needs network access),
  ///   `.workspace` (the cache folder is not the tool's).
  static func openAll(_ configuration: Configuration, gitDirectory: String) throws(HuntError) -> [String: Repository] {
    var opened = [String: Repository]()
    for dependency in configuration.dependencies {
      switch dependency.source {
      case .path(let path):
        do {
          opened[dependency.name] = try Repository(at: path, searchingUpward: false)
        } catch {
          throw .dependencyRepository(name: dependency.name, path: path, error)
        }
      case .url(let url):
        opened[dependency.name] = try cached(
          dependency.name, url: url, gitDirectory: gitDirectory, allowNetwork: configuration.allowNetwork)
      }
    }
    return opened
  }

  /// Opens the dependencies' histories that are already on this machine, for reports: no
  /// clone, no fetch; a dependency whose history cannot be opened is left out.
  static func openPresent(_ configuration: Configuration, gitDirectory: String) -> [String: Repository] {
    var opened = [String: Repository]()
    for dependency in configuration.dependencies {
      let path: String
      switch dependency.source {
      case .path(let given): path = given
      case .url:
        path = folder(gitDirectory: gitDirectory, name: dependency.name).appendingPathComponent(cloneName).path
      }
      if let repository = try? Repository(at: path, searchingUpward: false) { opened[dependency.name] = repository }
    }
    return opened
  }

  private static func cached(_ name: String, url: String, gitDirectory: String, allowNetwork: Bool) throws(HuntError)
    -> Repository
  {
    let folder = folder(gitDirectory: gitDirectory, name: name)
    let clone = folder.appendingPathComponent(cloneName)
    let marker = folder.appendingPathComponent(markerName)
    let files = FileManager.default
    let exists = files.fileExists(atPath: folder.path)
    if exists {
      let entries: [String]
      do {
        entries = try files.contentsOfDirectory(atPath: folder.path)
      } catch {
        throw .workspace(path: folder.path, reason: error.localizedDescription)
      }
      guard entries.contains(markerName) else {
        throw .workspace(
          path: folder.path,
          reason:
            "bisect-deploy keeps dependency '\(name)''s clone there, but it did not create this folder (no \(markerName) file). Move it away"
        )
      }
      let foreign = entries.filter { $0 != markerName && $0 != cloneName }.sorted()
      guard foreign.isEmpty else {
        throw .workspace(
          path: folder.path,
          reason:
            "it holds files bisect-deploy did not make (\(foreign.prefix(3).joined(separator: ", "))). Move them away")
      }
      // The same URL and a clone that opens: fetched when allowed, else used as it is.
      if recordedURL(in: marker) == Self.markerLine(for: url),
        let repository = try? Repository(at: clone.path, searchingUpward: false)
      {
        if allowNetwork {
          do {
            try repository.fetch()
          } catch {
            throw .dependencyFetch(name: name, url: url, reason: error.errorDescription ?? "\(error)")
          }
        }
        return repository
      }
    }
    guard allowNetwork else {
      throw .configuration(
        .conflict(
          "Dependency '\(name)' is read from \(PostgresLocation.maskingCredentials(url)), which needs network access: allow it with --allow-network (or allow_network: true), or give 'repo: PATH' of a local clone."
        ))
    }
    do {
      if !exists {
        try files.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
      }
      // The marker first, so that a clone killed half-way is still known as the tool's own.
      let text = [markerHeader, "url \(markerLine(for: url))", "clone \(cloneName)"].joined(separator: "\n") + "\n"
      try Data(text.utf8).write(to: marker)
      if files.fileExists(atPath: clone.path) { try files.removeItem(at: clone) }
    } catch {
      throw .workspace(path: folder.path, reason: error.localizedDescription)
    }
    do {
      return try Repository.cloneBare(from: url, into: clone)
    } catch {
      throw .dependencyFetch(name: name, url: url, reason: error.errorDescription ?? "\(error)")
    }
  }

  /// The URL as the marker keeps it: its credentials masked (the marker is a plain file),
  /// with the SHA-1 of the whole URL so that another password still means another clone.
  package static func markerLine(for url: String) -> String {
    let digest = Array(url.utf8).withUnsafeBytes { SHA1.digest($0) }
    let hex = digest.map { String(format: "%02x", $0) }.joined()
    return "\(PostgresLocation.maskingCredentials(url)) sha1:\(hex)"
  }

  private static func recordedURL(in marker: URL) -> String? {
    guard let text = try? String(contentsOf: marker, encoding: .utf8) else { return nil }
    return text.split(separator: "\n").first { $0.hasPrefix("url ") }.map { String($0.dropFirst(4)) }
  }
}

/// The histories of `configuration`'s dependencies that are on this machine already (local
/// clones, and the tool's clones of `url:` ones), by name, for reports: nothing is cloned or
/// fetched, and one that cannot be opened is left out (its commits are then named by hash).
public func presentDependencyHistories(of configuration: Configuration, gitDirectory: String) -> [String: Repository] {
  DependencyHistory.openPresent(configuration, gitDirectory: gitDirectory)
}
