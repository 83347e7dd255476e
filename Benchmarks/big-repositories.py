#!/usr/bin/env python3
"""Big-repository benchmarks (issue 19): our figure beside git's, measured in one run.

    python3 Benchmarks/big-repositories.py [--cache DIR] [--runs N] [--hunt-runs M]
        [--binary PATH] [--only hunt,range,range-graph,plan,plan-graph]

Rows:
  hunt         a whole hunt on a 20,000-file tree (about 100 MB, 300 linear commits), deploy
               `true`, a test that reads one file: `git bisect run` beside our hunt, both with
               the same good, bad and culprit; time per test run is the goal's figure.
  range        `bisect-deploy range` beside `git rev-list` on a 100,000-commit history
               (19% merges) without a commit-graph file; the count alone and the listing.
  range-graph  the same on a copy with a commit-graph file (git reads the graph).
  plan         `bisect-deploy plan` (graph load and first midpoint) beside
               `git rev-list --bisect` and a plain `git rev-list` walk, no commit-graph file.
  plan-graph   the same with the commit-graph file.

The histories are made once by Fixtures/make-history.py into the cache folder (default
/tmp/bisect-deploy-big-repositories) and reused while the script and its arguments are the
same. Each run's scratch folders (clones, state, workspaces) are made in a temporary folder
that is removed at the end. Everything is local: no network, no servers.

The binary: --binary, else $BISECT_DEPLOY_BINARY, else `swift build -c release
--show-bin-path`/bisect-deploy (it is not built here: build it first).
Python 3.11+, standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAKE_HISTORY = os.path.join(ROOT, "Fixtures", "make-history.py")
ROWS = ["hunt", "range", "range-graph", "plan", "plan-graph"]

# The fixtures. Changing one changes its cache key, so the cache is rebuilt.
TREE_ARGS = ["--commits", "300", "--merge-ratio", "0", "--seed", "1",
             "--tree-files", "20000", "--file-size", "5000"]
HISTORY_ARGS = ["--commits", "100000", "--merge-ratio", "0.19", "--seed", "1"]
# Where the planted culprit sits on the tree's history, as a share of its commits from the
# root: not the first midpoint, so a hunt takes a full set of steps.
CULPRIT_AT = 0.37


def git_env() -> dict[str, str]:
    """git without user or system config, as the fixtures are made."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null", GIT_TERMINAL_PROMPT="0",
               LC_ALL="C")
    return env


ENV = git_env()


def git(args: list[str], cwd: str | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, env=ENV, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"big-repositories: git {' '.join(args)} failed ({proc.returncode}): "
                         f"{proc.stderr.strip()}")
    return proc.stdout


def timed(argv: list[str], cwd: str | None = None) -> tuple[float, float, str]:
    """Runs argv to the end: (wall seconds, CPU seconds of it and its children, stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=ENV, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"big-repositories: {' '.join(argv)} failed ({proc.returncode}):\n"
                         f"{proc.stdout.decode(errors='replace')[-2000:]}"
                         f"{proc.stderr.decode(errors='replace')[-2000:]}")
    return wall, cpu, proc.stdout.decode(errors="replace")


# ----- fixtures ---------------------------------------------------------------------

def script_digest() -> str:
    with open(MAKE_HISTORY, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def cached_history(cache: str, name: str, args: list[str], graph: bool = False,
                   copy_of: str | None = None) -> dict:
    """The repository CACHE/name made with args (or a copy of copy_of with a commit-graph),
    remade when make-history.py or the arguments changed."""
    path = os.path.join(cache, name)
    stamp = os.path.join(cache, name + ".json")
    key = {"script": script_digest(), "args": args, "graph": graph, "copy_of": copy_of}
    if os.path.isdir(path) and os.path.exists(stamp):
        with open(stamp) as f:
            saved = json.load(f)
        if saved.get("key") == key:
            return saved["result"]
    shutil.rmtree(path, ignore_errors=True)
    if os.path.exists(stamp):
        os.remove(stamp)
    start = time.perf_counter()
    if copy_of:
        source = os.path.join(cache, copy_of)
        shutil.copytree(source, path, symlinks=True)
        with open(os.path.join(cache, copy_of + ".json")) as f:
            result = json.load(f)["result"]
        result["path"] = path
        git(["-C", path, "-c", "gc.auto=0", "commit-graph", "write", "--reachable"])
    else:
        proc = subprocess.run([sys.executable, MAKE_HISTORY, path, *args], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"big-repositories: make-history.py {' '.join(args)} failed:\n{proc.stderr}")
        result = json.loads(proc.stdout)
    log(f"made {path} in {time.perf_counter() - start:.1f} s")
    with open(stamp, "w") as f:
        json.dump({"key": key, "result": result}, f)
    return result


# ----- output -----------------------------------------------------------------------

def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Table:
    def __init__(self):
        self.rows: list[tuple[str, str, str, str, str]] = []
        self.notes: list[str] = []

    def add(self, what: str, git_figure: float, ours: float, goal: float | None, unit: str = "s",
            git_label: str = "", ours_label: str = "") -> None:
        """A row; goal None for figures shown for context, with no goal of their own."""
        ratio = ours / git_figure if git_figure > 0 else float("inf")
        if goal is None:
            target = "-"
        else:
            target = f"<= {goal:g}x ({'met' if ratio <= goal else 'MISSED'})"
        self.rows.append((what, f"{fmt(git_figure, unit)} {git_label}".strip(),
                          f"{fmt(ours, unit)} {ours_label}".strip(), f"{ratio:.2f}x", target))
        log(f"| {' | '.join(self.rows[-1])} |")  # as it comes; stdout gets the whole table at the end

    def show(self) -> None:
        header = ("what", "git", "bisect-deploy", "ratio", "goal")
        print("| " + " | ".join(header) + " |")
        print("| --- | ---: | ---: | ---: | --- |")
        for row in self.rows:
            print("| " + " | ".join(row) + " |")
        print()
        for note in self.notes:
            print(note)


def fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 10 else f"{value:.1f} s"
    return f"{value:.1f} {unit}"


def median_runs(argv: list[str], runs: int, cwd: str | None = None) -> tuple[float, float, str]:
    """Median wall and CPU time of runs runs, after one untimed run that warms the page cache."""
    _, _, out = timed(argv, cwd)
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu, out = timed(argv, cwd)
        walls.append(wall)
        cpus.append(cpu)
    return statistics.median(walls), statistics.median(cpus), out


# ----- the hunt row -----------------------------------------------------------------

def plant_culprit(repo: str) -> tuple[str, str, str, str, int]:
    """(root, bad, culprit, file, revision): a main commit at CULPRIT_AT and one data file it
    rewrote. The history is linear, so "revision of file >= revision" is bad exactly from it on."""
    line = git(["-C", repo, "rev-list", "--reverse", "--first-parent", "main"]).split()
    if any(len(git(["-C", repo, "rev-list", "--parents", "-n1", c]).split()) > 2 for c in line[-2:]):
        raise SystemExit("big-repositories: the tree fixture must be linear (--merge-ratio 0)")
    culprit = line[int(len(line) * CULPRIT_AT)]
    changed = git(["-C", repo, "diff-tree", "--no-commit-id", "--name-only", "-r", culprit, "--",
                   "data/"]).split()
    path = changed[0]
    first_line = git(["-C", repo, "cat-file", "blob", f"{culprit}:{path}"]).split("\n", 1)[0]
    revision = int(first_line.rsplit(" ", 1)[1])
    return line[0], line[-1], culprit, path, revision


def write_test(scratch: str, path: str, revision: int, counter: str) -> str:
    """The test both tools run in their checkout: count the run, read the file's first line,
    fail from the culprit on."""
    test = os.path.join(scratch, "test.sh")
    with open(test, "w") as f:
        f.write("#!/bin/sh\n"
                f"echo run >> '{counter}'\n"
                f"read -r _ _ revision < '{path}' || exit 1\n"
                f'[ "$revision" -lt {revision} ]\n')
    os.chmod(test, 0o755)
    return test


def count_lines(path: str) -> int:
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def git_bisect_hunt(repo: str, scratch: str, root: str, bad: str, culprit: str, test: str,
                    counter: str) -> tuple[float, float, int]:
    """git bisect run in a fresh clone (the clone and its checkout are not timed)."""
    work = os.path.join(scratch, "git-work")
    shutil.rmtree(work, ignore_errors=True)
    git(["clone", "-q", "--local", repo, work])
    git(["-C", work, "checkout", "-q", bad])
    open(counter, "w").close()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    git(["bisect", "start", bad, root], cwd=work)
    out = git(["bisect", "run", "sh", test], cwd=work)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    found = re.search(r"^([0-9a-f]{40}) is the first bad commit", out, re.M)
    if not found or found.group(1) != culprit:
        raise SystemExit(f"big-repositories: git bisect run did not name {culprit}:\n{out[-2000:]}")
    git(["bisect", "reset"], cwd=work)
    shutil.rmtree(work)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, count_lines(counter)


def our_hunt(binary: str, repo: str, scratch: str, root: str, bad: str, culprit: str, test: str,
             counter: str) -> tuple[float, float, int, float, str]:
    """Our hunt on a bare clone, with state, workspace and logs in scratch folders."""
    run = os.path.join(scratch, "ours")
    shutil.rmtree(run, ignore_errors=True)
    os.makedirs(run)
    clone = os.path.join(run, "repo.git")
    git(["clone", "-q", "--bare", "--local", repo, clone])
    config = os.path.join(run, "bisect-deploy.yml")
    with open(config, "w") as f:
        f.write(f"workspace: {os.path.join(run, 'work')}\nlogs: {os.path.join(run, 'logs')}\n")
    def argv(state: str) -> list[str]:
        return [binary, "--repo", clone, "--config", config, "--state", os.path.join(run, state),
                "--good", root, "--bad", bad, "--deploy", "true", "--test", f"sh {test}",
                "--no-verify", "--restore", "none", "--quiet"]
    # git's work tree is checked out before its timing starts (by the clone); ours is made by
    # an untimed hunt first, as a later hunt in the same clone finds it (its own state file,
    # so that nothing of it is reused but the checkout).
    subprocess.run(argv("warm-up.sqlite"), check=True, capture_output=True)
    open(counter, "w").close()
    wall, cpu, out = timed(argv("state.sqlite"))
    if f"The first bad commit is {culprit}" not in out:
        raise SystemExit(f"big-repositories: our hunt did not name {culprit}:\n{out[-2000:]}")
    summary = next((line for line in out.splitlines() if line.startswith("Steps:")), "")
    overhead = re.search(r"tool overhead ([0-9.]+) ms per step", summary)
    if not overhead:
        raise SystemExit(f"big-repositories: no overhead in our summary:\n{out[-2000:]}")
    shutil.rmtree(run)
    return wall, cpu, count_lines(counter), float(overhead.group(1)), summary


def hunt_row(table: Table, binary: str, cache: str, scratch: str, runs: int) -> None:
    tree = cached_history(cache, "tree-20k", TREE_ARGS)
    repo = tree["path"]
    root, bad, culprit, path, revision = plant_culprit(repo)
    counter = os.path.join(scratch, "test-runs")
    test = write_test(scratch, path, revision, counter)
    log(f"hunt: {tree['files']} files of {tree['file_size']} bytes, {tree['commits']} commits; "
        f"good {root[:10]}, bad {bad[:10]}, culprit {culprit[:10]} ({path} revision >= {revision})")
    theirs, ours = [], []
    for run in range(runs):
        # Alternate who goes first, so neither always finds a warmer page cache.
        order = ["git", "ours"] if run % 2 == 0 else ["ours", "git"]
        for who in order:
            if who == "git":
                wall, cpu, tests = git_bisect_hunt(repo, scratch, root, bad, culprit, test, counter)
                theirs.append((wall, cpu, tests))
                log(f"  git bisect run: {wall:.2f} s wall, {cpu:.2f} s cpu, {tests} test runs")
            else:
                wall, cpu, tests, overhead, summary = our_hunt(binary, repo, scratch, root, bad, culprit,
                                                               test, counter)
                ours.append((wall, cpu, tests, overhead))
                log(f"  bisect-deploy:  {wall:.2f} s wall, {cpu:.2f} s cpu, {tests} test runs; {summary}")
    git_wall = statistics.median(w for w, _, _ in theirs)
    git_tests = statistics.median(t for _, _, t in theirs)
    our_wall = statistics.median(w for w, _, _, _ in ours)
    our_tests = statistics.median(t for _, _, t, _ in ours)
    overhead = statistics.median(o for _, _, _, o in ours)
    git_per = statistics.median(w / t for w, _, t in theirs)
    our_per = statistics.median(w / t for w, _, t, _ in ours)
    table.add("hunt, 20,000-file tree: whole hunt (info)", git_wall, our_wall, None,
              git_label=f"({git_tests:g} test runs)", ours_label=f"({our_tests:g} test runs)")
    table.add("hunt, 20,000-file tree: per test run", git_per, our_per, 1.5,
              ours_label=f"(tool overhead {overhead:.1f} ms per step)")
    git_cpu = statistics.median(c / t for _, c, t in theirs)
    our_cpu = statistics.median(c / t for _, c, t, _ in ours)
    table.notes.append(f"hunt: CPU per test run, git {git_cpu * 1000:.0f} ms, ours {our_cpu * 1000:.0f} ms "
                       f"(median of {runs}; culprit {culprit[:10]} named by both)")


# ----- range and plan rows ----------------------------------------------------------

def range_rows(table: Table, binary: str, history: dict, runs: int, label: str, goal: float) -> None:
    repo = history["path"]
    bad = history["main"]
    root = git(["-C", repo, "rev-list", "--max-parents=0", "main"]).strip()
    count = int(git(["-C", repo, "rev-list", "--count", bad, "--not", root]))
    g_wall, g_cpu, g_out = median_runs(["git", "-C", repo, "rev-list", "--count", bad, "--not", root], runs)
    o_wall, o_cpu, o_out = median_runs(
        [binary, "range", "--repo", repo, "--good", root, "--bad", bad, "--count"], runs)
    if int(o_out.strip()) != count or int(g_out.strip()) != count:
        raise SystemExit(f"big-repositories: counts differ: git {g_out.strip()}, ours {o_out.strip()}")
    table.add(f"range --count, {label}", g_wall, o_wall, goal,
              git_label="(`rev-list --count`)", ours_label=f"({count} commits)")
    table.notes.append(f"range --count, {label}: CPU git {g_cpu * 1000:.0f} ms, ours {o_cpu * 1000:.0f} ms")
    g_wall, g_cpu, g_out = median_runs(
        ["git", "-C", repo, "rev-list", "--no-commit-header", "--format=%H %s", bad, "--not", root], runs)
    o_wall, o_cpu, o_out = median_runs([binary, "range", "--repo", repo, "--good", root, "--bad", bad], runs)
    check_listing(o_out, g_out)
    table.add(f"range listing, {label}", g_wall, o_wall, goal, git_label="(`rev-list --format='%H %s'`)")
    table.notes.append(f"range listing, {label}: CPU git {g_cpu * 1000:.0f} ms, ours {o_cpu * 1000:.0f} ms")


def check_listing(ours: str, git_out: str) -> None:
    """Our range listing must be git's `%H %s` lines, the same lines in the same order, after
    its one header line (the count); stops the run at the first line that differs."""
    listed = ours.splitlines()[1:]
    expected = git_out.splitlines()
    if listed == expected:
        return
    for number, (mine, theirs) in enumerate(zip(listed, expected), start=1):
        if mine != theirs:
            raise SystemExit(f"big-repositories: our range listing differs from git's at line {number}:\n"
                             f"  ours: {mine}\n  git:  {theirs}")
    raise SystemExit(f"big-repositories: our range lists {len(listed)} commits, git {len(expected)}; "
                     f"the first {min(len(listed), len(expected))} lines agree")


def plan_rows(table: Table, binary: str, history: dict, runs: int, label: str) -> None:
    repo = history["path"]
    bad = history["main"]
    root = git(["-C", repo, "rev-list", "--max-parents=0", "main"]).strip()
    w_wall, w_cpu, _ = median_runs(["git", "-C", repo, "rev-list", bad, "--not", root], runs)
    b_wall, b_cpu, b_out = median_runs(["git", "-C", repo, "rev-list", "--bisect", bad, "--not", root], runs)
    o_wall, o_cpu, o_out = median_runs([binary, "plan", "--repo", repo, "--good", root, "--bad", bad], runs)
    first = re.search(r"^first: ([0-9a-f]{40})", o_out, re.M)
    if not first:
        raise SystemExit(f"big-repositories: plan named no first commit:\n{o_out}")
    table.add(f"plan, {label}: beside a plain walk", w_wall, o_wall, 1.5, git_label="(`rev-list`)")
    table.add(f"plan, {label}: beside --bisect (info)", b_wall, o_wall, None,
              git_label="(`rev-list --bisect`)")
    same = "the same commit" if first.group(1) == b_out.strip() else f"git chose {b_out.strip()[:10]}"
    table.notes.append(f"plan, {label}: CPU walk {w_cpu * 1000:.0f} ms, --bisect {b_cpu * 1000:.0f} ms, "
                       f"ours {o_cpu * 1000:.0f} ms; our first midpoint {first.group(1)[:10]}, {same}")


# ----- main -------------------------------------------------------------------------

def find_binary(given: str | None) -> str:
    binary = given or os.environ.get("BISECT_DEPLOY_BINARY")
    if not binary:
        proc = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"big-repositories: swift build --show-bin-path failed: {proc.stderr.strip()}")
        binary = os.path.join(proc.stdout.strip(), "bisect-deploy")
    if not os.access(binary, os.X_OK):
        raise SystemExit(f"big-repositories: no binary at {binary}; build it with "
                         "`swift build -c release --product bisect-deploy` or set BISECT_DEPLOY_BINARY")
    return os.path.abspath(binary)


def main() -> int:
    parser = argparse.ArgumentParser(description="Big-repository benchmarks beside git (issue 19).")
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "bisect-deploy-big-repositories"),
                        help="folder for the generated histories, reused between runs")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per fast row; the median is shown")
    parser.add_argument("--hunt-runs", type=int, default=3, help="whole hunts of each tool; the median is shown")
    parser.add_argument("--binary", help="the bisect-deploy release binary")
    parser.add_argument("--only", default=",".join(ROWS), help=f"rows to run, of {','.join(ROWS)}")
    args = parser.parse_args()
    rows = [r for r in args.only.split(",") if r]
    unknown = set(rows) - set(ROWS)
    if unknown or args.runs < 1 or args.hunt_runs < 1:
        parser.error(f"unknown rows {sorted(unknown)}" if unknown else "--runs and --hunt-runs must be 1 or more")
    binary = find_binary(args.binary)
    os.makedirs(args.cache, exist_ok=True)
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
    log(f"binary {binary} ({version or 'no --version'}), {git(['--version']).strip()}, cache {args.cache}")

    table = Table()
    with tempfile.TemporaryDirectory(prefix="big-repositories.") as scratch:
        if "hunt" in rows:
            hunt_row(table, binary, args.cache, scratch, args.hunt_runs)
        if any(r != "hunt" for r in rows):
            plain = cached_history(args.cache, "history-100k", HISTORY_ARGS)
            graph = cached_history(args.cache, "history-100k-graph", HISTORY_ARGS, graph=True,
                                   copy_of="history-100k")
            log(f"history: {plain['commits']} commits, {plain['merges']} merges, main {plain['main'][:10]}")
            if "range" in rows:
                range_rows(table, binary, plain, args.runs, "100k commits, no commit-graph", 1.5)
            if "range-graph" in rows:
                range_rows(table, binary, graph, args.runs, "100k commits, commit-graph", 1.2)
            if "plan" in rows:
                plan_rows(table, binary, plain, args.runs, "no commit-graph")
            if "plan-graph" in rows:
                plan_rows(table, binary, graph, args.runs, "commit-graph")
    table.show()
    return 0


if __name__ == "__main__":
    sys.exit(main())
