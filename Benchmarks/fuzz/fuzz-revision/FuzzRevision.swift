// libFuzzer target: revisions as users type them (`--good`, `--bad`, `restore: to:`), resolved
// by `Repository.resolve` in a small fixture repository that is built once per process with
// `git` (fixed names and dates, so its hashes are the same on every machine). Errors are fine;
// a trap or a leak (under AddressSanitizer) is a finding. Built and run by Benchmarks/fuzz/run.sh.
import Foundation
import FuzzDriver
import GitKit
import History

/// Builds the fixture: two branches and a merge, lightweight and annotated tags (also of a tree,
/// a blob and another tag), a remote-tracking branch with an upstream, reflogs, a sub-folder.
let fixture: String = {
  let folder = FileManager.default.temporaryDirectory
    .appendingPathComponent("bisect-deploy-fuzz-revision-\(getpid())").path
  let script = #"""
    set -eu
    rm -rf "$1" && mkdir -p "$1" && cd "$1"
    export HOME="$1" GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=Fuzz GIT_AUTHOR_EMAIL=fuzz@example.org \
      GIT_COMMITTER_NAME=Fuzz GIT_COMMITTER_EMAIL=fuzz@example.org
    day=10
    at() { day=$((day + 1)); export GIT_AUTHOR_DATE="2017-03-${day}T09:00:00Z" GIT_COMMITTER_DATE="2017-03-${day}T09:00:00Z"; }
    commit() { at; echo "$1" >> file.txt; echo "$1" > "file-$day.txt"; git add -A; git commit -q -m "$1"; }
    git init -q -b main repo && cd repo
    commit "first"; git tag v0.1
    commit "second"; git tag -a -m "release 0.2" v0.2
    git checkout -q -b feature
    at; echo "feature one" > feature.txt; git add -A; git commit -q -m "feature one"
    at; echo "feature two" >> feature.txt; git add -A; git commit -q -m "feature two"
    git checkout -q main
    commit "main three"
    at; git merge -q --no-ff -m "Merge feature" feature
    git tag -a -m "a tree" tree-tag 'HEAD^{tree}'
    git tag -a -m "a blob" blob-tag HEAD:file.txt
    git tag -a -m "a tag of a tag" nested v0.2
    git tag light-tree 'HEAD^{tree}'
    mkdir sub && echo x > sub/y.txt && commit "sub folder"
    git branch 'weird/na-me.x' HEAD~1
    git remote add origin . && git fetch -q origin && git branch -q -u origin/main main
    git checkout -q feature && git checkout -q main
    commit "last"
    """#
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/bin/sh")
  process.arguments = ["-c", script, "fixture", folder]
  do { try process.run() } catch { fatalError("cannot run /bin/sh to build the fixture: \(error)") }
  process.waitUntilExit()
  guard process.terminationStatus == 0 else { fatalError("building the fixture repository failed") }
  atexit { try? FileManager.default.removeItem(atPath: fixtureFolder()) }
  return folder + "/repo"
}()

/// The repository most inputs use: not Sendable, so kept per thread (libFuzzer runs inputs on one).
func shared() throws(GitError) -> Repository {
  let key = "bisect-deploy-fuzz-revision.repository"
  if let repository = Thread.current.threadDictionary[key] as? Repository { return repository }
  let repository = try Repository(at: fixture)
  Thread.current.threadDictionary[key] = repository
  return repository
}

func fixtureFolder() -> String {
  FileManager.default.temporaryDirectory.appendingPathComponent("bisect-deploy-fuzz-revision-\(getpid())").path
}

/// Builds the fixture before the first input, so its child process and files are not counted
/// against any input by the leak check.
@_cdecl("LLVMFuzzerInitialize")
public func initialize(
  _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> CInt {
  _ = fixture
  return 0
}

@main struct FuzzRevision {
  static func main() { runFuzzer() }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRevision(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let revision = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
  // Most inputs reuse one open repository (libgit2 keeps caches across calls, as the tool does
  // within a command); every eighth opens its own, from the sub-folder every sixteenth (users run
  // the tool from anywhere in the work tree), so the handle's lifetime is fuzzed too.
  let repository: Repository
  do {
    repository = size % 8 == 0 ? try Repository(at: size % 16 == 0 ? fixture + "/sub" : fixture) : try shared()
  } catch {
    fatalError("cannot open the fixture repository: \(error)")
  }
  do {
    let id = try repository.resolve(revision)
    // What the CLI does with a resolved end: print its facts, place it in the history.
    let facts = try repository.commit(id)
    if facts.id != id { fatalError("commit(\(id)) returned \(facts.id)") }
    let tip = try repository.resolve("main")
    _ = try repository.isAncestor(id, of: tip)
    _ = try repository.mergeBases(id, tip)
  } catch {
    // Every error must make a message that names the input.
    _ = error.localizedDescription
  }
  return 0
}
