import Foundation
import GitKit
import History

#if canImport(Glibc)
  import Glibc
#endif

/// How one commit changed a dependency's pin against its first parent: the revisions each
/// side pins (one each for a plain bump), and the culprit's files that hold the pin.
package struct PinBump: Sendable, Hashable {
  package var dependency: PinnedDependency
  /// The distinct revisions the parent pins, in the order found; empty when the commit adds
  /// the pin (or is a root commit).
  package var old: [String]
  /// The distinct revisions the commit pins, in the order found (never empty).
  package var new: [String]
  /// The commit's files (repository paths) where the pattern captures a revision.
  package var paths: [String]

  /// The one revision each side pins, when both pin exactly one: a bump to descend into.
  package var single: (old: String, new: String)? {
    guard old.count == 1, new.count == 1 else { return nil }
    return (old[0], new[0])
  }

  /// Why there is nothing to descend into, when there is not; nil for a plain bump.
  package var problem: String? {
    if old.isEmpty { return "the culprit adds this pin (nothing was pinned before it)" }
    if new.count > 1 {
      return
        "the culprit pins it at \(new.count) revisions (\(new.joined(separator: ", "))): one pin to descend from is needed"
    }
    if old.count > 1 {
      return
        "its parent pinned it at \(old.count) revisions (\(old.joined(separator: ", "))): one pin to descend from is needed"
    }
    return nil
  }
}

/// Reading pinned revisions out of commits.
package enum PinReading {
  /// Every dependency whose pin `commit` changes against its first parent (a root commit
  /// against nothing), in the order the configuration lists them.
  package static func bumps(by commit: ObjectID, in repository: Repository, dependencies: [PinnedDependency])
    throws(GitError) -> [PinBump]
  {
    let facts = try repository.commit(commit)
    let newFiles = try repository.files(of: commit)
    let oldFiles = try facts.parents.first.map { parent throws(GitError) in try repository.files(of: parent) } ?? []
    var bumps = [PinBump]()
    for dependency in dependencies {
      // Checked when the configuration was read: it compiles to one group.
      guard case .success(let pattern) = PinPattern.compile(dependency.pattern) else { continue }
      let now = try sites(of: dependency, pattern, in: newFiles, repository)
      let before = try sites(of: dependency, pattern, in: oldFiles, repository)
      let new = distinct(now.map(\.value))
      let old = distinct(before.map(\.value))
      guard !new.isEmpty, Set(new) != Set(old) else { continue }
      bumps.append(PinBump(dependency: dependency, old: old, new: new, paths: distinct(now.map(\.path))))
    }
    return bumps
  }

  /// Where `dependency` is pinned among `files`: each capture of its pattern, with its file.
  package static func sites(
    of dependency: PinnedDependency, _ pattern: PinPattern, in files: [TreeFile], _ repository: Repository
  )
    throws(GitError) -> [(path: String, value: String)]
  {
    var found = [(path: String, value: String)]()
    for file in files where dependency.files.contains(where: { PathGlob.matches($0, path: file.path) }) {
      // Pins live in text files; a file that is not UTF-8 is not read (and never rewritten).
      guard let text = String(validating: try repository.contents(ofBlob: file.blob), as: UTF8.self) else { continue }
      for capture in pattern.captures(in: text) { found.append((file.path, capture.value)) }
    }
    return found
  }

  private static func distinct(_ values: [String]) -> [String] {
    var seen = Set<String>()
    return values.filter { seen.insert($0).inserted }
  }
}

/// One pin to write into a checkout: every revision of `dependency` that reads `from` in
/// the files `paths` becomes `to`.
package struct PinRewrite: Sendable, Hashable {
  package var dependency: PinnedDependency
  package var from: Set<String>
  package var to: String
  package var paths: [String]

  package init(dependency: PinnedDependency, from: Set<String>, to: String, paths: [String]) {
    self.dependency = dependency
    self.from = from
    self.to = to
    self.paths = paths
  }

  /// Rewrites the pin in the checkout at `checkout` (never in the repository). Each file is
  /// written whole under a temporary name beside it and renamed over it, keeping its mode;
  /// only regular files inside the checkout are written, never through a symbolic link.
  ///
  /// - Throws: `HuntError.pinRewrite` naming the file when the pin is not found there (the
  ///   checkout's file differs from the commit's blob) or it cannot be written.
  package func apply(in checkout: URL) throws(HuntError) {
    guard case .success(let pattern) = PinPattern.compile(dependency.pattern) else {
      throw .pinRewrite(dependency: dependency.name, path: "", reason: "its pattern does not compile")
    }
    let root = checkout.standardizedFileURL.resolvingSymlinksInPath().path
    for path in paths {
      let file = checkout.appendingPathComponent(path)
      let failure = { (reason: String) in HuntError.pinRewrite(dependency: dependency.name, path: path, reason: reason)
      }
      // The folder holding the file must be inside the checkout once links are resolved,
      // and the file itself a regular file: a tree's symbolic link never leads a write out.
      let folder = file.deletingLastPathComponent().resolvingSymlinksInPath().path
      guard folder == root || folder.hasPrefix(root + "/") else { throw failure("it lies outside the checkout") }
      var info = stat()
      guard lstat(file.path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
        throw failure("it is not a regular file in the checkout")
      }
      let text: String
      do {
        text = try String(contentsOf: file, encoding: .utf8)
      } catch {
        throw failure("cannot read it: \(error.localizedDescription)")
      }
      var rewritten = ""
      var cursor = text.startIndex
      var replaced = 0
      for capture in pattern.captures(in: text) where from.contains(capture.value) {
        rewritten += text[cursor..<capture.range.lowerBound]
        rewritten += to
        cursor = capture.range.upperBound
        replaced += 1
      }
      guard replaced > 0 else {
        throw failure("the pin (\(from.sorted().joined(separator: ", "))) is not in the checkout's copy of the file")
      }
      rewritten += text[cursor...]
      let temporary = file.deletingLastPathComponent().appendingPathComponent(
        ".\(file.lastPathComponent).bisect-deploy")
      // The temporary name may be taken by the tree itself (a symlink committed under that
      // name would be written through): it is removed, then made new, never followed.
      unlink(temporary.path)
      let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
      guard descriptor >= 0 else {
        throw failure("cannot write it: \(String(cString: strerror(errno)))")
      }
      let bytes = Array(rewritten.utf8)
      var written = 0
      while written < bytes.count {
        let count = bytes[written...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        guard count > 0 else {
          let reason = String(cString: strerror(errno))
          close(descriptor)
          unlink(temporary.path)
          throw failure("cannot write it: \(reason)")
        }
        written += count
      }
      close(descriptor)
      guard chmod(temporary.path, info.st_mode & 0o7777) == 0, rename(temporary.path, file.path) == 0 else {
        let reason = String(cString: strerror(errno))
        unlink(temporary.path)
        throw failure("cannot replace it: \(reason)")
      }
    }
  }
}
