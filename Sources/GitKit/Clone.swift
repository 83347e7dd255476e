import Clibgit2
import Foundation
import History

extension Repository {
  /// Clones `url` into `directory` (which must not exist or be empty) as a bare repository
  /// with every branch and tag, and opens it. Local paths are fetched through git's transport
  /// too, never hard-linked: the clone shares no file with the repository it came from.
  ///
  /// - Throws: `GitError.libgit2` naming the URL when the clone fails (unreachable, refused,
  ///   not a repository).
  public static func cloneBare(from url: String, into directory: URL) throws(GitError) -> Repository {
    ensureLibgit2()
    var options = git_clone_options()
    try check(git_clone_options_init(&options, UInt32(GIT_CLONE_OPTIONS_VERSION)), "prepare a clone")
    options.bare = 1
    options.local = GIT_CLONE_NO_LOCAL
    options.fetch_opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_ALL
    var cloned: OpaquePointer?
    let path = directory.standardizedFileURL.path
    try check(git_clone(&cloned, url, path, &options), "clone '\(url)' into '\(path)'")
    // Reopened through the one initializer, so that the handle is owned the usual way.
    if let cloned { git_repository_free(cloned) }
    return try Repository(at: path, searchingUpward: false)
  }

  /// The URL of remote `name`, or nil when there is no such remote.
  public func remoteURL(_ name: String = "origin") -> String? {
    var remote: OpaquePointer?
    guard git_remote_lookup(&remote, handle, name) == 0, let remote else {
      git_error_clear()
      return nil
    }
    defer { git_remote_free(remote) }
    return git_remote_url(remote).map { String(cString: $0) }
  }

  /// Fetches remote `name`'s branches and all its tags into this repository.
  ///
  /// - Throws: `GitError.libgit2` naming the remote when it is missing or the fetch fails.
  public func fetch(remote name: String = "origin") throws(GitError) {
    var remote: OpaquePointer?
    try check(git_remote_lookup(&remote, handle, name), "find the remote '\(name)' of '\(requestedPath)'")
    guard let remote else {
      throw .libgit2(operation: "find the remote '\(name)'", code: -1, message: "none")
    }
    defer { git_remote_free(remote) }
    var options = git_fetch_options()
    try check(git_fetch_options_init(&options, UInt32(GIT_FETCH_OPTIONS_VERSION)), "prepare a fetch")
    options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_ALL
    let url = git_remote_url(remote).map { String(cString: $0) } ?? name
    try check(git_remote_fetch(remote, nil, &options, "bisect-deploy: fetch"), "fetch '\(url)'")
  }
}
