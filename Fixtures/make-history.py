#!/usr/bin/env python3
"""Make a synthetic git repository with a pull-request shaped history.

    python3 Fixtures/make-history.py OUT_DIR --commits N [--seed S]
        [--merge-ratio R] [--date-skew P] [--bare] [--commit-graph] [--tree-files F [--file-size B]]

The same arguments always give the same commit hashes. See Fixtures/README.md.
Python 3.11+, standard library only.
"""

from __future__ import annotations

import argparse
import base64
import heapq
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

EPOCH = 1488326400  # 2017-03-01T00:00:00Z; commit i is dated EPOCH + i * STEP.
STEP = 60
IDENT = b"Fixture Author <fixture@example.com>"
MAIN = b"refs/heads/main"
UNMERGED = b"refs/heads/unmerged"
# Open topics are written on a small pool of scratch refs ("lanes"), deleted at the end.
# fast-import keeps each ref's tree in memory, so a commit that continues its ref's tip
# costs no read-back from the pack being written (which is slow: it remaps the pack).
LANE = b"refs/fixture-lanes/%d"
ACTIVE_BRANCHES = 64

# (path, mode, kind). The order is part of the format: trees are tuples in this order.
FILES = [
    ("config/dev.yaml", "100644", "yaml"),
    ("config/staging.yaml", "100644", "yaml"),
    ("config/prod.yaml", "100644", "yaml"),
    ("hub/spawner.py", "100644", "py"),
    ("hub/authenticator.py", "100644", "py"),
    ("hub/values.yaml", "100644", "yaml"),
    ("deploy/deploy.py", "100644", "py"),
    ("deploy/helm.py", "100644", "py"),
    ("deploy/requirements.txt", "100644", "txt"),
    ("user-image/Dockerfile", "100644", "docker"),
    ("user-image/environment.yml", "100644", "yaml"),
    ("user-image/postBuild", "100755", "sh"),
    ("docs/README.md", "100644", "md"),
    ("docs/deploy.md", "100644", "md"),
    ("docs/changelog.md", "100644", "md"),
]
DIRS = ["config", "hub", "deploy", "user-image", "docs"]
DIR_WEIGHTS = [30, 20, 20, 15, 15]
FILES_IN = {d: [i for i, f in enumerate(FILES) if f[0].startswith(d + "/")] for d in DIRS}

# Subject phrases per directory; {name} is the changed file's stem.
PHRASES = {
    "config": ["bump {name} image tag", "raise {name} memory limit", "tune {name} culler timeout",
               "enable {name} profile list", "rotate {name} proxy token"],
    "hub": ["fix {name} timeout handling", "log {name} start failures", "tidy {name} options",
            "retry {name} on API errors"],
    "deploy": ["retry upgrade in {name}", "pin chart version in {name}",
               "add dry-run flag to {name}", "speed up {name}"],
    "user-image": ["pin numpy in {name}", "add lab extension to {name}",
                   "update base image in {name}", "clean apt cache in {name}"],
    "docs": ["fix typo in {name}", "describe rollback in {name}", "update {name} for new cluster",
             "reword {name} intro"],
}

# --date-skew: a commit so chosen is dated up to this many steps off its creation time, either
# way, so that some parents are newer than their children (rebases, cherry-picks, clock skew).
SKEW_STEPS = 90

# Topic shape knobs.
SYNC_CHANCE = 1 / 8       # main merged into the topic before it lands
REVERT_CHANCE = 0.04      # a topic commit is reverted by the next one
STACKED_CHANCE = 0.08     # a topic forks off another open topic
ADVANCE_BIAS = 2.0        # higher: fewer topics open at once

# Large-tree mode (--tree-files): data files beside FILES, in folders of DATA_PER_DIR, and
# how many of them each ordinary commit rewrites besides its 1-2 files from FILES.
DATA_PER_DIR = 200
DATA_CHANGES = 3


def blob_content(path: str, kind: str, n: int) -> bytes:
    """File content for change number n; n is unique per change, so every change differs."""
    if kind == "yaml":
        text = f'# {path}\nimage:\n  tag: "r{n}"\nreplicas: {n % 5 + 1}\nrevision: {n}\n'
    elif kind == "py":
        text = f'"""{path}"""\n\nREVISION = {n}\n\n\ndef revision():\n    return REVISION\n'
    elif kind == "md":
        text = f"# {path}\n\nRevision {n} of this page.\n"
    elif kind == "docker":
        text = f'FROM python:3.{6 + n % 6}-slim\nLABEL revision="{n}"\n'
    elif kind == "sh":
        text = f"#!/bin/sh\n# revision {n}\nset -e\n"
    else:
        text = f"# {path}\nrevision=={n}\n"
    return text.encode()


def data_path(index: int) -> str:
    """Path of data file number index (0-based) in large-tree mode."""
    return f"data/{index // DATA_PER_DIR:03d}/file-{index:05d}.txt"


def data_content(path: str, size: int, seed: int, n: int) -> bytes:
    """Exactly size bytes: a first line naming the revision (tests read it), then a body fixed
    per path and seed. Revisions differ only in their first line, as small edits do, so the
    pack deltas them; the body is base64 of random bytes, so it compresses about as badly as
    real code and data do."""
    head = f"{path} revision {n}\n".encode()
    body_size = size - len(head)
    # A string seed is hashed with SHA-512: the same bytes on every machine and Python run.
    raw = random.Random(f"data {seed} {path}").randbytes(body_size * 3 // 4 + 3)
    text = base64.b64encode(raw)
    lines = b"\n".join(text[i:i + 76] for i in range(0, len(text), 76))
    return head + lines[:body_size - 1] + b"\n"


class Topic:
    """A pull-request branch while it is open. `plan` is the list of steps still to do:
    'c' commit, 'x' commit to be reverted by the next step 'r', 's' merge main in, 'm' land."""

    __slots__ = ("pr", "ref", "tip", "synced", "plan", "area", "touched", "avoid", "pending",
                 "title")

    def __init__(self, pr, ref, tip, synced, plan, area, touched):
        self.pr = pr
        self.ref = ref            # fast-import ref the topic's commits are written on
        self.tip = tip            # commit id of the branch tip
        self.synced = synced      # newest main commit the topic contains (fork or last sync)
        self.plan = plan
        self.area = area          # directory most of its commits touch
        self.touched = touched    # file indexes this topic (or its parent topic) changed
        self.avoid = set()        # files reverted; left alone so the topic ends unchanged there
        self.pending = None       # (file index, old blob mark, subject) of a change to revert
        self.title = None


class Generator:
    """Simulates the history and streams it to `git fast-import` as it goes.

    Commit ids are creation indexes; commit i has mark :i+1 and date EPOCH + i*STEP.
    Trees are tuples of blob marks in self.files order, so merging is a per-file comparison."""

    def __init__(self, n: int, seed: int, ratio: float, out, data_files: int = 0,
                 file_size: int = 0, skew: float = 0.0):
        self.n = n
        self.skew = skew
        # Its own generator: without --date-skew the history (and every hash) stays as it was.
        self.skew_rng = random.Random(seed * 7919 + 17)
        self.ratio = ratio
        self.seed = seed
        self.rng = random.Random(seed)
        self.out = out                 # binary file-like: fast-import's stdin
        # Every file of the tree: FILES, then the data files of large-tree mode. Indexes below
        # len(FILES) are the ones topics pick and revert; data files only change alongside.
        self.files = FILES + [(data_path(i), "100644", "data") for i in range(data_files)]
        self.file_size = file_size
        self.parents: list[tuple] = []
        self.trees: list[tuple] = []
        self.in_main = bytearray(n)    # 1 when the commit is an ancestor of main's tip
        self.main_line: list[int] = []  # main's first-parent chain, oldest first
        self.open: list[Topic] = []
        self.unmerged: Topic | None = None
        self.next_mark = n + 1         # blob marks come after all commit marks
        self.changes = 0
        self.merges = 0
        self.next_pr = 1
        self.free_lanes: list[int] = []  # min-heap, so lane numbers are deterministic
        self.lanes = 0
        # Planned totals (done + still planned), steering topic creation towards the ratio.
        self.plan_total = 0
        self.plan_merges = 0
        # Topics must stay short enough that the merge ratio is reachable.
        mean_max = (1 + SYNC_CHANCE) * (1 - ratio) / ratio if ratio > 0 else 6
        self.max_topic = max(1, min(6, int(2 * mean_max - 1)))

    # ----- stream output -------------------------------------------------------------

    def _blob(self, index: int) -> int:
        self.changes += 1
        path, _, kind = self.files[index]
        if kind == "data":
            data = data_content(path, self.file_size, self.seed, self.changes)
        else:
            data = blob_content(path, kind, self.changes)
        mark = self.next_mark
        self.next_mark += 1
        self.out.write(b"blob\nmark :%d\ndata %d\n%s\n" % (mark, len(data), data))
        return mark

    def _commit(self, ref: bytes, parents: tuple, tree: tuple, subject: str, body: str) -> int:
        cid = len(self.parents)
        self.parents.append(parents)
        self.trees.append(tree)
        when = EPOCH + STEP * cid
        if self.skew and cid > 0 and self.skew_rng.random() < self.skew:
            when += STEP * self.skew_rng.randint(-SKEW_STEPS, SKEW_STEPS)
        msg = f"{subject}\n\n{body}\n".encode()
        parts = [b"commit %s\nmark :%d\nauthor %s %d +0000\ncommitter %s %d +0000\ndata %d\n%s"
                 % (ref, cid + 1, IDENT, when, IDENT, when, len(msg), msg)]
        if parents:
            parts.append(b"from :%d\n" % (parents[0] + 1))
            if len(parents) > 1:
                parts.append(b"merge :%d\n" % (parents[1] + 1))
                self.merges += 1
        # Only what differs from the first parent; fast-import starts from its tree.
        first = self.trees[parents[0]] if parents else (0,) * len(self.files)
        for i, mark in enumerate(tree):
            if mark != first[i]:
                path, mode, _ = self.files[i]
                parts.append(b"M %s :%d %s\n" % (mode.encode(), mark, path.encode()))
        parts.append(b"\n")
        self.out.write(b"".join(parts))
        return cid

    # ----- history bookkeeping -------------------------------------------------------

    def _mark_main(self, cid: int) -> None:
        """Mark cid and its ancestors as reachable from main (amortised O(N) overall)."""
        stack = [cid]
        while stack:
            c = stack.pop()
            if not self.in_main[c]:
                self.in_main[c] = 1
                stack.extend(self.parents[c])

    def _base_with_main(self, tip: int) -> int:
        """Newest common ancestor of tip and main: walk tip's commits not yet in main."""
        if self.in_main[tip]:
            return tip
        best, stack, seen = -1, [tip], {tip}
        while stack:
            for p in self.parents[stack.pop()]:
                if p not in seen:
                    seen.add(p)
                    if self.in_main[p]:
                        best = max(best, p)
                    else:
                        stack.append(p)
        return best

    def _merged_tree(self, ours: int, theirs: int, topic_tip: int) -> tuple:
        """Three-way merge per file; when both sides changed a file, the second parent wins.
        One side is always main's tip, so the base is found from the topic's side."""
        base = self.trees[self._base_with_main(topic_tip)]
        o, t = self.trees[ours], self.trees[theirs]
        return tuple(o[i] if t[i] == base[i] else t[i] for i in range(len(self.files)))

    # ----- commit kinds --------------------------------------------------------------

    def _message(self, index: int, cid: int) -> str:
        path = FILES[index][0]
        area = path.split("/")[0]
        name = path.rsplit("/", 1)[1].split(".")[0]
        return f"{area}: {self.rng.choice(PHRASES[area]).format(name=name)} (#{cid})"

    def _pick_files(self, area: str | None, avoid) -> list[int]:
        count = 1 if self.rng.random() < 0.7 else 2
        picked: list[int] = []
        for _ in range(20):  # bounded: `avoid` may rule out a whole directory
            if area is not None and self.rng.random() < 0.8:
                index = self.rng.choice(FILES_IN[area])
            else:
                index = self.rng.randrange(len(FILES))
            if index not in avoid and index not in picked:
                picked.append(index)
                if len(picked) == count:
                    break
        if not picked:
            picked.append(min(set(range(len(FILES))) - set(avoid)))
        return picked

    def _change_commit(self, ref, parent, area, avoid, body_where, files=None):
        """An ordinary commit on top of parent changing 1-2 files; returns (cid, subject)."""
        files = files or self._pick_files(area, avoid)
        tree = list(self.trees[parent])
        for index in files:
            tree[index] = self._blob(index)
        cid = len(self.parents)
        subject = self._message(files[0], cid)
        changed = " and ".join(FILES[i][0] for i in files)
        data = len(self.files) - len(FILES)
        if data:
            # Drawn after the subject, so the default mode's draws are untouched by this branch.
            picked = sorted(self.rng.sample(range(data), min(DATA_CHANGES, data)))
            for index in picked:
                tree[len(FILES) + index] = self._blob(len(FILES) + index)
            changed += f" and {len(picked)} data file{'s' if len(picked) != 1 else ''}"
        body = f"Change {changed} on {body_where}."
        return self._commit(ref, (parent,), tuple(tree), subject, body), subject

    def root(self) -> None:
        tree = tuple(self._blob(i) for i in range(len(self.files)))
        cid = self._commit(MAIN, (), tree, "Initial fixture layout",
                           "Add deploy, hub, user-image, config and docs.")
        self._on_main(cid)
        self.plan_total += 1

    def _on_main(self, cid: int) -> None:
        self.main_line.append(cid)
        self._mark_main(cid)

    def direct(self) -> None:
        cid, _ = self._change_commit(MAIN, self.main_line[-1], None, (), "main")
        self._on_main(cid)
        self.plan_total += 1

    def unmerged_commit(self) -> None:
        """The long-lived branch: forks from main's tip at its first commit, never lands."""
        t = self.unmerged
        if t is None:
            t = self.unmerged = Topic(0, UNMERGED, self.main_line[-1], self.main_line[-1], [],
                                      self.rng.choices(DIRS, DIR_WEIGHTS)[0], set())
        t.tip, _ = self._change_commit(UNMERGED, t.tip, t.area, (), "the unmerged branch")
        self.plan_total += 1

    def open_topic(self) -> None:
        rng = self.rng
        pr = self.next_pr
        self.next_pr += 1
        if self.open and rng.random() < STACKED_CHANCE:
            parent = rng.choice(self.open)
            fork, synced, touched = parent.tip, parent.synced, set(parent.touched)
        else:
            r = rng.random()
            back = 0 if r < 0.7 else rng.randint(1, 5) if r < 0.92 else rng.randint(6, 40)
            fork = self.main_line[-1 - min(back, len(self.main_line) - 1)]
            synced, touched = fork, set()
        k = rng.randint(1, self.max_topic)
        plan = ["c"] * k
        if k >= 2 and rng.random() < REVERT_CHANCE:
            j = rng.randrange(k - 1)
            plan[j:j + 2] = ["x", "r"]
        if rng.random() < SYNC_CHANCE:
            plan.insert(rng.randint(1, k), "s")
        plan.append("m")
        self.plan_total += len(plan)
        self.plan_merges += plan.count("s") + 1
        if self.free_lanes:
            lane = heapq.heappop(self.free_lanes)
        else:
            lane, self.lanes = self.lanes, self.lanes + 1
        topic = Topic(pr, LANE % lane, fork, synced, plan, rng.choices(DIRS, DIR_WEIGHTS)[0],
                      touched)
        self.open.append(topic)
        if not self.advance(topic, 2):
            raise AssertionError("a new topic must start with a commit")

    def _drop_steps(self, topic: Topic, steps: list) -> None:
        self.plan_total -= len(steps)
        self.plan_merges -= sum(1 for s in steps if s in "sm")

    def advance(self, topic: Topic, slack: int) -> bool:
        """Do topic's next step. False when nothing was committed (step dropped or the
        topic closed because another topic already landed its tip)."""
        step = topic.plan[0]
        where = f"fixture/topic-{topic.pr}"
        if step == "m":
            self.open.remove(topic)
            heapq.heappush(self.free_lanes, int(topic.ref.rsplit(b"/", 1)[1]))
            if self.in_main[topic.tip]:
                self._drop_steps(topic, topic.plan)
                return False
            main = self.main_line[-1]
            tree = self._merged_tree(main, topic.tip, topic.tip)
            cid = self._commit(MAIN, (main, topic.tip), tree,
                               f"Merge pull request #{topic.pr} from {where}", topic.title)
            self._on_main(cid)
            return True
        if step == "s":
            main = self.main_line[-1]
            if self.in_main[topic.tip] or topic.synced == main:
                self._drop_steps(topic, [topic.plan.pop(0)])
                return False
            topic.plan.pop(0)
            tree = self._merged_tree(topic.tip, main, topic.tip)
            topic.tip = self._commit(topic.ref, (topic.tip, main), tree,
                                     f"Merge branch 'main' into {where}",
                                     f"Sync {where} with main.")
            topic.synced = main
            topic.pending = None  # a revert across a sync might undo main's changes
            return True
        # A commit on a topic that already landed reopens it: it will need a merge again.
        if slack < (2 if self.in_main[topic.tip] else 1):
            self._drop_steps(topic, topic.plan[:-1])
            topic.plan = ["m"]
            return False
        topic.plan.pop(0)
        if step == "r" and topic.pending:
            index, old_mark, subject = topic.pending
            tree = list(self.trees[topic.tip])
            tree[index] = old_mark
            topic.tip = self._commit(topic.ref, (topic.tip,), tuple(tree), f'Revert "{subject}"',
                                     f"Restore {FILES[index][0]} on {where}.")
            topic.avoid.add(index)
            topic.pending = None
            return True
        files = None
        if step == "x":
            fresh = [i for i in range(len(FILES))
                     if i not in topic.touched and i not in topic.avoid]
            if fresh:
                files = [self.rng.choice(fresh)]
        old_tree = self.trees[topic.tip]
        topic.tip, subject = self._change_commit(topic.ref, topic.tip, topic.area, topic.avoid,
                                                 where, files)
        if files:
            topic.pending = (files[0], old_tree[files[0]], subject)
        changed = self.trees[topic.tip]
        topic.touched.update(i for i in range(len(FILES)) if changed[i] != old_tree[i])
        if topic.title is None:
            topic.title = subject.rsplit(" (#", 1)[0]
        return True

    # ----- driver --------------------------------------------------------------------

    def run(self) -> None:
        n, rng = self.n, self.rng
        # The unmerged branch gets a few commits spread over the later two thirds.
        u = 0 if n < 2 else 1 if n < 10 else 3
        slots = set(rng.sample(range(max(1, n // 3), n), u))
        unmerged_left = u
        self.root()
        for idx in range(1, n):
            if idx in slots:
                unmerged_left -= 1
                self.unmerged_commit()
                continue
            left = n - idx - unmerged_left  # commits still to make, unmerged branch aside
            while not self._step(left):
                pass

    def _step(self, left: int) -> bool:
        """Make one commit, or return False after only dropping a planned step."""
        rng = self.rng
        waiting = [t for t in self.open if not self.in_main[t.tip]]
        slack = left - len(waiting)  # every waiting topic still needs its merge commit
        if slack == 0:
            topic = waiting[0]
            self._drop_steps(topic, topic.plan[:-1])
            topic.plan = ["m"]
            return self.advance(topic, 0)
        if self.open and rng.random() < len(self.open) / (len(self.open) + ADVANCE_BIAS):
            return self.advance(rng.choice(self.open), slack)
        if slack >= 2 and self.plan_merges < self.ratio * self.plan_total:
            self.open_topic()
        else:
            self.direct()
        return True

    def finish(self) -> None:
        """Point main at its tip and delete the lanes (a null `from` deletes a ref)."""
        self.out.write(b"reset %s\nfrom :%d\n\n" % (MAIN, self.main_line[-1] + 1))
        for lane in range(self.lanes):
            self.out.write(b"reset %s\nfrom %s\n\n" % (LANE % lane, b"0" * 40))

    def tags(self) -> dict[str, int]:
        """v0.1 at ~25% and v0.2 at ~50% of main's first-parent line; one lands on a merge."""
        line = self.main_line
        if len(line) < 8:
            return {}
        i1, i2 = len(line) // 4, len(line) // 2

        def nearest_merge(start, lo, hi):
            merges = (j for j in range(lo, hi) if len(self.parents[line[j]]) == 2)
            return min(merges, key=lambda j: (abs(j - start), j), default=None)

        j = nearest_merge(i1, 1, i2)
        if j is not None:
            i1 = j
        else:
            j = nearest_merge(i2, i1 + 1, len(line))
            if j is not None:
                i2 = j
        c1, c2 = line[i1], line[i2]
        msg = b"Release v0.1\n"
        self.out.write(b"tag v0.1\nfrom :%d\ntagger %s %d +0000\ndata %d\n%s\n"
                       % (c1 + 1, IDENT, EPOCH + STEP * c1, len(msg), msg))
        self.out.write(b"reset refs/tags/v0.2\nfrom :%d\n\n" % (c2 + 1))
        return {"v0.1": c1, "v0.2": c2}


def git_env() -> dict[str, str]:
    # Drop GIT_* (a caller's GIT_DIR or dates) and any user or system config.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null", GIT_TERMINAL_PROMPT="0",
               LC_ALL="C")
    return env


def run_git(args: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run(["git", *args], env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed ({proc.returncode}): "
                           f"{proc.stderr.strip()}")
    return proc.stdout


def generate(out_dir: str, n: int, seed: int, ratio: float, bare: bool, graph: bool,
             tree_files: int = 0, file_size: int = 0, skew: float = 0.0) -> dict:
    env = git_env()
    init = ["init", "-q", "-b", "main", "--object-format=sha1"]
    run_git(init + (["--bare"] if bare else []) + [out_dir], env)
    git_dir = out_dir if bare else os.path.join(out_dir, ".git")
    cfg = ["-C", out_dir, "-c", "gc.auto=0", "-c", "maintenance.auto=false"]

    # stderr to a file: a pipe could fill up and stall fast-import while we write stdin.
    with tempfile.TemporaryFile() as err:
        importer = ["fast-import", "--quiet", f"--active-branches={ACTIVE_BRANCHES}"]
        # glibc returns zlib's per-object buffers to the OS and faults them back in; this
        # cost about a third of fast-import's time. No effect on the objects written.
        fi_env = {"MALLOC_TRIM_THRESHOLD_": "1073741824", "MALLOC_TOP_PAD_": "67108864", **env}
        proc = subprocess.Popen(["git", *cfg, *importer], env=fi_env,
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err,
                                bufsize=1 << 20)
        data_files = tree_files - len(FILES) if tree_files else 0
        gen = Generator(n, seed, ratio, proc.stdin, data_files, file_size, skew)
        try:
            # `done` makes fast-import reject a stream cut short by a crash here.
            proc.stdin.write(b"feature done\n")
            gen.run()
            tags = gen.tags()
            gen.finish()
            proc.stdin.write(b"done\n")
        except BrokenPipeError:
            pass  # fast-import stopped early; its exit status and stderr say why
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass
            code = proc.wait()
        if code != 0:
            err.seek(0)
            raise RuntimeError(f"git fast-import failed ({code}): "
                               f"{err.read().decode(errors='replace').strip()}")

    try:
        os.rmdir(os.path.join(git_dir, "refs", "fixture-lanes"))  # left empty by the deletes
    except OSError:
        pass
    # Bitmaps off so bare and non-bare repositories behave alike.
    run_git(cfg + ["-c", "gc.writeCommitGraph=false", "-c", "repack.writeBitmaps=false",
                   "repack", "-a", "-d", "-q"], env)
    info = os.path.join(git_dir, "objects", "info")
    for name in ("commit-graph", "commit-graphs"):
        path = os.path.join(info, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
    if graph:
        run_git(cfg + ["commit-graph", "write", "--reachable"], env)
    if not bare:
        run_git(cfg + ["reset", "--hard", "-q", "main"], env)

    names = ["refs/heads/main"] + (["refs/heads/unmerged"] if gen.unmerged else [])
    names += [f"refs/tags/{t}^{{commit}}" for t in tags]
    hashes = run_git(cfg + ["rev-parse", *names], env).split()
    count = int(run_git(cfg + ["rev-list", "--all", "--count"], env))
    if count != n:
        raise RuntimeError(f"internal error: made {count} commits, expected {n}")
    result = {
        "path": os.path.abspath(out_dir),
        "commits": n,
        "merges": gen.merges,
        "main": hashes[0],
        "unmerged": hashes[1] if gen.unmerged else None,
        "tags": dict(zip(tags, hashes[-len(tags):] if tags else [])),
    }
    if tree_files:
        # Only in large-tree mode, so the default mode's output stays as it was.
        result["files"] = len(gen.files)
        result["file_size"] = file_size
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description="Make a deterministic synthetic git history.")
    parser.add_argument("out_dir", metavar="OUT_DIR", help="new or empty directory to create")
    parser.add_argument("--commits", type=int, required=True, help="total commits, merges included")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--merge-ratio", type=float, default=0.2,
                        help="share of commits that are merges, 0 to 0.5 (default 0.2)")
    parser.add_argument("--date-skew", type=float, default=0.0, metavar="P",
                        help="share of commits, 0 to 1, dated up to %d minutes off their creation "
                             "time, so that parents may be newer than children (default 0)" % SKEW_STEPS)
    parser.add_argument("--bare", action="store_true", help="make a bare repository")
    parser.add_argument("--commit-graph", action="store_true",
                        help="write a commit-graph (by default none exists)")
    parser.add_argument("--tree-files", type=int, default=0, metavar="F",
                        help=f"large-tree mode: F files in the tree in all, the {len(FILES)} usual ones "
                             "and F - %d data files; each commit also rewrites %d data files"
                             % (len(FILES), DATA_CHANGES))
    parser.add_argument("--file-size", type=int, default=None, metavar="B",
                        help="bytes per data file, with --tree-files (default 5000)")
    args = parser.parse_args()
    if args.commits < 1:
        parser.error("--commits must be at least 1")
    if not 0 <= args.merge_ratio <= 0.5:
        parser.error("--merge-ratio must be between 0 and 0.5")
    if not 0 <= args.date_skew <= 1:
        parser.error("--date-skew must be between 0 and 1")
    if args.tree_files and args.tree_files <= len(FILES):
        parser.error(f"--tree-files must be more than {len(FILES)} (the usual files)")
    if args.tree_files < 0:
        parser.error("--tree-files must not be negative")
    if args.file_size is not None and not args.tree_files:
        parser.error("--file-size needs --tree-files")
    file_size = 5000 if args.file_size is None else args.file_size
    # Room for the first line ("data/NNN/file-NNNNN.txt revision N") that tests read.
    if args.tree_files and file_size < 64:
        parser.error("--file-size must be at least 64")
    out_dir = args.out_dir
    if os.path.exists(out_dir) and (not os.path.isdir(out_dir) or os.listdir(out_dir)):
        print(f"make-history: {out_dir} exists and is not an empty directory", file=sys.stderr)
        return 2
    created = not os.path.exists(out_dir)
    try:
        os.makedirs(out_dir, exist_ok=True)
        result = generate(out_dir, args.commits, args.seed, args.merge_ratio,
                          args.bare, args.commit_graph, args.tree_files, file_size, args.date_skew)
    except (RuntimeError, OSError) as error:
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        print(f"make-history: {error}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
