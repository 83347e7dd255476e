import Foundation
import Yams

/// The ready-made forms of a pinned revision (`kind:` of a dependency): each builds the
/// regular expression that captures the revision from the dependency's `project` name.
public enum PinKind: String, Sendable, Hashable, CaseIterable {
  /// `pip install git+https://github.com/jupyterhub/kubespawner@<rev>` (Dockerfiles,
  /// requirements files): the URL's last path part is the project, `.git` allowed.
  case pipGit = "pip-git"
  /// A Terraform module source `...//project.git//sub?ref=<rev>` (`?ref=` anywhere in the query).
  case terraformRef = "terraform-ref"
  /// A Helm chart's dependency in Chart.yaml (or requirements.yaml): `- name: project`,
  /// then `version: <version>` in the same item (name written before version).
  case helmChart = "helm-chart"
  /// `image: registry/path/project:<tag>`.
  case imageTag = "image-tag"

  /// The pattern for `project`, in the syntax `pattern:` takes (ICU regular expressions),
  /// with the revision as its only group.
  public func pattern(project: String) -> String {
    let name = NSRegularExpression.escapedPattern(for: project)
    switch self {
    case .pipGit:
      return #"git\+[^\s@#'"]*/"# + name + #"(?:\.git)?@([^\s#'"&;@]+)"#
    case .terraformRef:
      return "/" + name + #"(?:\.git)?(?://[^\s"'?]*)?\?(?:[^\s"'#]*&)?ref=([^\s"'&#]+)"#
    case .helmChart:
      return #"(?m)^[ \t]*-[ \t]+name:[ \t]*["']?"# + name + #"["']?[ \t]*(?:#[^\n]*)?\n"#
        + #"(?:[ \t]+(?!version:|-)[^\n]*\n)*?[ \t]+version:[ \t]*["']?([^\s"'#]+)"#
    case .imageTag:
      return #"image:[ \t]*["']?(?:[^\s"'#]*/)?"# + name + #":([^\s"'#@]+)"#
    }
  }
}

/// A project the repository pins by revision (`dependencies:` in bisect-deploy.yml), and
/// where its history is. See docs/dependencies.md.
public struct PinnedDependency: Sendable, Hashable {
  /// Where the dependency's history is read from.
  public enum Source: Sendable, Hashable {
    /// A local clone (`repo: PATH`), read only.
    case path(String)
    /// A URL the tool clones into its own folder (`url:`), only with network access allowed.
    case url(String)
  }

  /// The dependency's name: letters, digits, `.`, `_` and `-` (it names its cache folder).
  public var name: String
  /// Globs of the files that pin it: `hub/Dockerfile`, `**/Chart.yaml`; one without `/`
  /// matches that file name in any folder.
  public var files: [String]
  /// The ready-made form, or nil for a `pattern:` of the user's.
  public var kind: PinKind?
  /// The regular expression whose one group is the pinned revision.
  public var pattern: String
  public var source: Source

  public init(name: String, files: [String], kind: PinKind? = nil, pattern: String, source: Source) {
    self.name = name
    self.files = files
    self.kind = kind
    self.pattern = pattern
    self.source = source
  }

  /// A dependency pinned in a ready-made form, the project named `project` (the name by default).
  public init(name: String, files: [String], kind: PinKind, project: String? = nil, source: Source) {
    self.init(name: name, files: files, kind: kind, pattern: kind.pattern(project: project ?? name), source: source)
  }
}

/// A compiled `PinnedDependency.pattern`: finds the revisions it captures in a file's text.
package struct PinPattern {
  package let regex: NSRegularExpression

  /// Compiles `pattern`; the problem in words when it is not a regular expression with
  /// exactly one group.
  package static func compile(_ pattern: String) -> Result<PinPattern, PatternProblem> {
    let regex: NSRegularExpression
    do {
      regex = try NSRegularExpression(pattern: pattern)
    } catch {
      return .failure(PatternProblem(text: "not a regular expression (ICU syntax): \(pattern)"))
    }
    guard regex.numberOfCaptureGroups == 1 else {
      return .failure(
        PatternProblem(
          text:
            "a pattern needs exactly one group, the revision (it has \(regex.numberOfCaptureGroups)); write other groups as (?:...)"
        ))
    }
    return .success(PinPattern(regex: regex))
  }

  package struct PatternProblem: Error {
    var text: String
  }

  /// Every non-empty revision the pattern captures in `text`, in order, with where it is.
  package func captures(in text: String) -> [(range: Range<String.Index>, value: String)] {
    let whole = NSRange(text.startIndex..<text.endIndex, in: text)
    var found = [(range: Range<String.Index>, value: String)]()
    for match in regex.matches(in: text, range: whole) {
      let group = match.range(at: 1)
      guard group.location != NSNotFound, group.length > 0, let range = Range(group, in: text) else { continue }
      found.append((range, String(text[range])))
    }
    return found
  }
}

/// Matches repository paths against `files:` globs: `*` and `?` within one path part,
/// `[abc]` classes, `**` for any number of folders; a glob without `/` matches the file's
/// name in any folder (as in .gitignore).
package enum PathGlob {
  package static func matches(_ glob: String, path: String) -> Bool {
    var pattern = Substring(glob)
    while pattern.hasPrefix("./") { pattern = pattern.dropFirst(2) }
    while pattern.hasPrefix("/") { pattern = pattern.dropFirst() }
    let parts = path.split(separator: "/").map(String.init)
    guard !pattern.contains("/") else {
      return matches(pattern.split(separator: "/").map(String.init)[...], parts[...])
    }
    guard let name = parts.last else { return false }
    return part(String(pattern), matches: name)
  }

  private static func matches(_ globs: ArraySlice<String>, _ parts: ArraySlice<String>) -> Bool {
    guard let first = globs.first else { return parts.isEmpty }
    if first == "**" {
      // Zero or more folders: try every split, shortest first.
      for skip in 0...parts.count where matches(globs.dropFirst(), parts.dropFirst(skip)) { return true }
      return false
    }
    guard let name = parts.first, part(first, matches: name) else { return false }
    return matches(globs.dropFirst(), parts.dropFirst())
  }

  private static func part(_ glob: String, matches name: String) -> Bool {
    fnmatch(glob, name, FNM_PERIOD) == 0
  }
}

extension Configuration {
  /// The problem with the dependency settings that only shows once flags are applied:
  /// nil when they can work.
  package func dependencyProblem() -> String? {
    guard descendDependencies else { return nil }
    if dependencies.isEmpty {
      return
        "descend_dependencies (--descend-deps) needs a 'dependencies:' list in the configuration: see docs/dependencies.md."
    }
    return nil
  }
}

extension NodeReader {
  /// `dependencies:`: a mapping from each dependency's name to its settings, in the order
  /// written (the order the descents run in). Relative `repo:` paths are read from `folder`
  /// (the configuration file's).
  func dependencies(_ node: Node, key: KeyName, folder: URL) throws(ConfigurationError) -> [PinnedDependency] {
    var found = [PinnedDependency]()
    for (name, body) in try mapping(node, key: key.name) {
      guard Configuration.isValidEnvironmentName(name.name) else {
        throw .invalid(
          path: path, line: name.line, key: "dependencies.\(name.name)",
          problem: "a dependency's name is letters, digits, '.', '_' and '-' (it names a folder)")
      }
      found.append(try dependency(named: name, body, folder: folder))
    }
    return found
  }

  private func dependency(named name: KeyName, _ body: Node, folder: URL) throws(ConfigurationError)
    -> PinnedDependency
  {
    let place = "dependencies.\(name.name)"
    var files = [String]()
    var kind: PinKind?
    var project: String?
    var pattern: (text: String, key: KeyName)?
    var source: PinnedDependency.Source?
    for (inner, value) in try mapping(body, key: place) {
      switch inner.name {
      case "files":
        files = try strings(value, key: inner)
        if files.isEmpty || files.contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
          throw .invalid(
            path: path, line: inner.line, key: inner.name, problem: "expected globs such as hub/Dockerfile")
        }
      case "kind":
        kind = try choice(value, key: inner) as PinKind
      case "project":
        project = try string(value, key: inner)
      case "pattern":
        pattern = (try string(value, key: inner), inner)
      case "repo", "url":
        guard source == nil else {
          throw .invalid(path: path, line: inner.line, key: inner.name, problem: "give either repo or url, not both")
        }
        let text = try string(value, key: inner)
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else {
          throw .invalid(path: path, line: inner.line, key: inner.name, problem: "expected a path or a URL")
        }
        source =
          inner.name == "url"
          ? .url(text) : .path(URL(fileURLWithPath: text, relativeTo: folder).standardizedFileURL.path)
      default:
        throw unknown(inner, known: ["kind", "pattern", "project", "files", "repo", "url"])
      }
    }
    let line = name.line
    guard !files.isEmpty else {
      throw .invalid(path: path, line: line, key: place, problem: "'files' is missing: the files that pin it")
    }
    guard let source else {
      throw .invalid(
        path: path, line: line, key: place,
        problem: "say where its history is: 'repo: PATH' (a local clone) or 'url: URL' (cloned by the tool)")
    }
    switch (kind, pattern) {
    case (nil, nil):
      throw .invalid(
        path: path, line: line, key: place,
        problem: "give a 'kind' (\(PinKind.allCases.map(\.rawValue).joined(separator: ", "))) or a 'pattern'")
    case (.some, .some(let given)):
      throw .invalid(path: path, line: given.key.line, key: "pattern", problem: "give either kind or pattern, not both")
    case (nil, .some(let given)):
      if project != nil {
        throw .invalid(path: path, line: line, key: "project", problem: "project goes with kind, not with pattern")
      }
      if case .failure(let problem) = PinPattern.compile(given.text) {
        throw .invalid(path: path, line: given.key.line, key: "pattern", problem: problem.text)
      }
      return PinnedDependency(name: name.name, files: files, pattern: given.text, source: source)
    case (.some(let kind), nil):
      return PinnedDependency(name: name.name, files: files, kind: kind, project: project, source: source)
    }
  }
}
