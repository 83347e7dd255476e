#!/usr/bin/env python3
"""Make an infrastructure repository that pins two dependency repositories, for the tests
of --descend-deps (docs/dependencies.md).

    python3 Fixtures/make-pinned.py OUT_DIR [--date-skew P]

Creates OUT_DIR/kubespawner (pinned by commit in hub/Dockerfile, as
`pip install git+https://github.com/jupyterhub/kubespawner@<sha>`), OUT_DIR/hubchart (pinned
by version in chart/Chart.yaml; its tags are v0.1.0 ... v0.10.0 and v0.5.0-rc1) and
OUT_DIR/infra, whose root commit is good and whose branches each end bad after one culprit:

- one-pin:   the culprit bumps kubespawner (and two innocent files), like 2017's PR 146;
- two-pins:  the culprit bumps kubespawner (guilty) and hubchart 0.2.0 -> 0.4.0 (innocent);
- chart:     the culprit bumps hubchart 0.2.0 -> 0.10.0; version 0.5.0-rc1 broke it;
- downgrade: the culprit pins kubespawner back to a commit before one the hub needs;
- fork:      the culprit pins kubespawner to a commit of an unmerged fork without it.

infra's smoke.sh reads what the checkout pins, as a deploy would install it, and fails when
kubespawner lacks the required commit or has the breaking one, or the chart's version has
the chart's breaking commit (it reads the dependencies from $KUBESPAWNER and $HUBCHART).

With --date-skew P, a share P (0 to 1) of the commits after each root, drawn from a fixed
seed, are dated up to 90 minutes before or after their place, so that some parents are
newer than their children (rebases, cherry-picks, clock skew), as make-history.py does.
Without it (or with 0) every date, and so every hash, is as before the option existed.

The same run always gives the same hashes (fixed author, dates and contents). Prints one
JSON object naming the commits the tests need. Python 3.11+, standard library, git.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys

IDENT = "Fixture Author <fixture@example.com>"
EPOCH = 1488326400  # 2017-03-01T00:00:00Z
# --date-skew: a commit so chosen is dated up to this many minutes (commit steps) off its place.
SKEW_STEPS = 90


class Repo:
    """Writes a repository's history with one `git fast-import` stream."""

    def __init__(self, path: str, start: int, skew: float = 0.0):
        self.path = path
        self.stream: list[bytes] = []
        self.marks = 0
        self.time = start
        self.files: dict[int, dict[str, str]] = {}
        self.skew = skew
        # Its own generator, seeded by the repository's name (a string seed is hashed with
        # SHA-512: the same on every machine): without --date-skew nothing is drawn from it.
        self.skew_rng = random.Random("date skew " + os.path.basename(path))

    def commit(self, ref: str, message: str, changes: dict[str, str], parents: list[int]) -> int:
        """A commit on `ref` with `changes` over its first parent's files; returns its mark."""
        self.marks += 1
        self.time += 60
        mark = self.marks
        files = dict(self.files[parents[0]]) if parents else {}
        files.update(changes)
        self.files[mark] = files
        data = message.encode()
        # Only the written date moves: self.time, and so every later commit, stays in place.
        when = self.time
        if self.skew and parents and self.skew_rng.random() < self.skew:
            when += 60 * self.skew_rng.randint(-SKEW_STEPS, SKEW_STEPS)
        out = [f"commit {ref}\nmark :{mark}\n".encode(),
               f"author {IDENT} {when} +0000\ncommitter {IDENT} {when} +0000\n".encode(),
               f"data {len(data)}\n".encode(), data, b"\n"]
        if parents:
            out.append(f"from :{parents[0]}\n".encode())
        for parent in parents[1:]:
            out.append(f"merge :{parent}\n".encode())
        # Every commit states its whole tree, so a merge's tree is exactly `files`.
        out.append(b"deleteall\n")
        for path in sorted(files):
            content = files[path].encode()
            mode = "100755" if path.endswith(".sh") else "100644"
            out.append(f"M {mode} inline {path}\ndata {len(content)}\n".encode() + content + b"\n")
        out.append(b"\n")
        self.stream += out
        return mark

    def tag(self, name: str, mark: int, annotated: bool) -> None:
        if annotated:
            self.time += 1
            message = f"Release {name}\n".encode()
            self.stream.append(
                f"tag {name}\nfrom :{mark}\ntagger {IDENT} {self.time} +0000\ndata {len(message)}\n".encode()
                + message + b"\n")
        else:
            self.stream.append(f"reset refs/tags/{name}\nfrom :{mark}\n\n".encode())

    def write(self) -> dict[int, str]:
        """Imports the stream, checks out main, and returns each mark's commit hash."""
        env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null")
        subprocess.run(["git", "init", "-q", "-b", "main", self.path], check=True, env=env)
        marks = os.path.join(self.path, ".git", "fixture-marks")
        subprocess.run(["git", "fast-import", "--quiet", f"--export-marks={marks}"], cwd=self.path, check=True,
                       env=env, input=b"".join(self.stream))
        subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=self.path, check=True, env=env)
        with open(marks) as handle:
            found = {int(line.split()[0][1:]): line.split()[1] for line in handle if line.strip()}
        os.remove(marks)
        return found


def spawner(n: int, command_in_spec: bool, jpy: bool, options: bool) -> str:
    return (f"# kubespawner, change {n}\nclass KubeSpawner:\n"
            f"    command_in_pod_spec = {command_in_spec}\n    jpy_environment = {jpy}\n"
            f"    user_options = {options}\n")


def make_kubespawner(path: str, skew: float) -> dict:
    repo = Repo(path, EPOCH, skew)
    n = iter(range(1000))
    state = {"cmd": False, "jpy": True, "options": False}

    def change() -> dict[str, str]:
        return {"kubespawner/spawner.py": spawner(next(n), state["cmd"], state["jpy"], state["options"])}

    main = repo.commit("refs/heads/main", "Initial KubeSpawner\n", dict(change(), **{"README.md": "KubeSpawner\n"}), [])
    main = repo.commit("refs/heads/main", "Pass options in JPY_* variables\n", change(), [main])
    before_required = main
    state["options"] = True
    required = repo.commit("refs/heads/main", "Support user options\n", change(), [main])
    main = required

    def pull_request(number: int, branch: str, subjects: list[str], effects: dict[int, dict]) -> int:
        nonlocal main
        tip = main
        for index, subject in enumerate(subjects):
            state.update(effects.get(index, {}))
            tip = repo.commit(f"refs/heads/{branch}", subject + "\n", change(), [tip])
            if index == 1 and number == 34:
                marks["breaking"] = tip
        main = repo.commit(
            "refs/heads/main", f"Merge pull request #{number} from fixture/{branch}\n\n{subjects[0]}\n",
            change(), [main, tip])
        return main

    marks: dict[str, int] = {}
    good = pull_request(30, "events", ["Watch pod events", "Log pod events"], {})
    pull_request(31, "timeouts", ["Raise the start timeout"], {})
    main = repo.commit("refs/heads/main", "Document the spawner's options\n", change(), [main])
    pull_request(33, "volumes", ["Mount user volumes", "Name volumes by user", "Test volume names"], {})
    merge34 = pull_request(
        34, "cmd-in-pod", ["Refactor the pod spec", "Put the server's command in the pod's command",
                           "Stop passing options in JPY_* variables"],
        {1: {"cmd": True}, 2: {"jpy": False}})
    pull_request(35, "restore-env", ["Restore the JPY_* variables"], {0: {"jpy": True}})
    main = repo.commit("refs/heads/main", "Tidy imports\n", change(), [main])
    bad = pull_request(36, "labels", ["Label pods by user"], {})
    # A fork from before the required commit: it never has it.
    state.update({"cmd": False, "options": False})
    fork = repo.commit("refs/heads/fork", "Fork: a lighter spawner\n", change(), [before_required])
    fork = repo.commit("refs/heads/fork", "Fork: drop options\n", change(), [fork])
    hashes = repo.write()
    return {"path": path, "good": hashes[good], "bad": hashes[bad], "breaking": hashes[marks["breaking"]],
            "merge": hashes[merge34], "pullRequest": 34, "required": hashes[required],
            "beforeRequired": hashes[before_required], "fork": hashes[fork]}


def make_hubchart(path: str, skew: float) -> dict:
    repo = Repo(path, EPOCH + 20000, skew)
    versions = ["0.1.0", "0.2.0", "0.3.0", "0.4.0", None, "0.5.0-rc1", "0.5.0", "0.6.0", "0.7.0", "0.8.0",
                "0.9.0", "0.10.0", None]
    tip = None
    breaking = None
    tags = {}
    for index, version in enumerate(versions):
        subject = "Template the hub's command" if version is None and index == 4 else f"Chart change {index}"
        files = {"templates/hub.yaml": f"# change {index}\ncommand: {index >= 4}\n", "Chart.yaml": "name: hubchart\n"}
        tip = repo.commit("refs/heads/main", subject + "\n", files, [tip] if tip else [])
        if index == 4:
            breaking = tip
        if version:
            repo.tag("v" + version, tip, annotated=index % 2 == 1)
            tags[version] = tip
    repo.tag("docs-latest", tip, annotated=False)
    hashes = repo.write()
    return {"path": path, "breaking": hashes[breaking], "firstBadVersion": "0.5.0-rc1",
            "tags": {version: hashes[mark] for version, mark in tags.items()}}


SMOKE = """#!/bin/sh
# The smoke test reads what the checkout pins, as the deploy would install it.
rev=$(sed -n 's|.*jupyterhub/kubespawner@\\([0-9a-f]*\\).*|\\1|p' hub/Dockerfile | head -n 1)
version=$(awk '/name: hubchart/ { found = 1 } found && /version:/ { gsub(/["]/, "", $2); print $2; exit }' chart/Chart.yaml)
commit=$(git -C "$HUBCHART" rev-parse --verify -q "v$version^{commit}") || { echo "no chart $version"; exit 125; }
git -C "$KUBESPAWNER" merge-base --is-ancestor %(required)s "$rev" || { echo "kubespawner $rev lacks user options"; exit 1; }
if git -C "$KUBESPAWNER" merge-base --is-ancestor %(breaking)s "$rev"; then echo "kernels die (kubespawner $rev)"; exit 1; fi
if git -C "$HUBCHART" merge-base --is-ancestor %(chart)s "$commit"; then echo "hub crashes (chart $version)"; exit 1; fi
echo "kernels run (kubespawner $rev, chart $version)"
"""


def dockerfile(rev: str) -> str:
    return ("FROM python:3.6\n# The spawner, pinned by commit\n"
            f"RUN pip install --no-cache-dir git+https://github.com/jupyterhub/kubespawner@{rev}\n"
            "CMD [\"jupyterhub\"]\n")


def chart(version: str) -> str:
    return ("apiVersion: v2\nname: data8\nversion: 1.0.0\ndependencies:\n"
            f"  - name: hubchart\n    version: \"{version}\"\n    repository: https://charts.example.org\n")


def make_infra(path: str, kube: dict, hub: dict, skew: float) -> dict:
    repo = Repo(path, EPOCH + 40000, skew)
    smoke = SMOKE % {"required": kube["required"], "breaking": kube["breaking"], "chart": hub["breaking"]}
    base = {"smoke.sh": smoke, "hub/Dockerfile": dockerfile(kube["good"]), "chart/Chart.yaml": chart("0.2.0"),
            "chart/values.yaml": "hub:\n  image:\n    tag: \"v1\"\n", "config/storage.yaml": "class: standard\n"}
    root = repo.commit("refs/heads/main", "Initial infrastructure\n", base, [])
    branches = {}

    def branch(name: str, commits: list[tuple[str, dict[str, str]]], culprit_index: int) -> None:
        tip = root
        culprit = None
        for index, (subject, changes) in enumerate(commits):
            tip = repo.commit(f"refs/heads/{name}", subject + "\n", changes, [tip])
            if index == culprit_index:
                culprit = tip
        branches[name] = {"tip": tip, "culprit": culprit}

    counter = iter(range(1000))

    def docs() -> dict[str, str]:
        return {"docs/notes.md": f"note {next(counter)}\n"}

    branch("one-pin", [
        ("Raise the memory limit", {"chart/values.yaml": "hub:\n  image:\n    tag: \"v1\"\n  memory: 2G\n"}),
        ("Describe the rollback", docs()),
        ("Generalization cleanup (#146)", {
            "hub/Dockerfile": dockerfile(kube["bad"]),
            "chart/values.yaml": "hub:\n  image:\n    tag: \"v2\"\n  memory: 2G\n",
            "config/storage.yaml": "class: gp2\n"}),
        ("Fix a typo", docs()), ("Reword the intro", docs())], 2)
    branch("two-pins", [
        ("Describe the cluster", docs()),
        ("Bump the spawner and the chart", {"hub/Dockerfile": dockerfile(kube["bad"]), "chart/Chart.yaml": chart("0.4.0")}),
        ("Fix a link", docs())], 1)
    branch("chart", [
        ("Describe the chart", docs()),
        ("Bump the chart to 0.10.0", {"chart/Chart.yaml": chart("0.10.0")}),
        ("Fix a heading", docs())], 1)
    branch("downgrade", [
        ("Go back to the old spawner", {"hub/Dockerfile": dockerfile(kube["beforeRequired"])}),
        ("Fix a word", docs())], 0)
    branch("fork", [
        ("Describe the fork", docs()),
        ("Try the lighter spawner fork", {"hub/Dockerfile": dockerfile(kube["fork"])})], 1)
    hashes = repo.write()
    return {"path": path, "root": hashes[root],
            "branches": {name: {"tip": hashes[b["tip"]], "culprit": hashes[b["culprit"]]} for name, b in branches.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description="Make the repositories of the --descend-deps tests.")
    parser.add_argument("out_dir", metavar="OUT_DIR")
    parser.add_argument("--date-skew", type=float, default=0.0, metavar="P",
                        help="share of commits, 0 to 1, dated up to %d minutes off their place, so that "
                             "parents may be newer than children (default 0)" % SKEW_STEPS)
    args = parser.parse_args()
    if not 0 <= args.date_skew <= 1:
        parser.error("--date-skew must be between 0 and 1")
    out = os.path.abspath(args.out_dir)
    if os.path.exists(out) and os.listdir(out):
        print(f"{out} is not empty", file=sys.stderr)
        return 2
    os.makedirs(out, exist_ok=True)
    kube = make_kubespawner(os.path.join(out, "kubespawner"), args.date_skew)
    hub = make_hubchart(os.path.join(out, "hubchart"), args.date_skew)
    infra = make_infra(os.path.join(out, "infra"), kube, hub, args.date_skew)
    print(json.dumps({"kubespawner": kube, "hubchart": hub, "infra": infra}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
