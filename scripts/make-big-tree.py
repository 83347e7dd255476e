#!/usr/bin/env python3
"""Usage: scripts/make-big-tree.py TARGET

A repository of 300 commits over 20,000 files of about 5 KB, each commit after the first
touching 5 files (one added or deleted now and then), built with git fast-import: the
tree GitKitTests.IncrementalCheckoutTimings measures (docs/git-layer.md, "Incremental
checkout")."""
import random, subprocess, sys
target = sys.argv[1]
subprocess.run(["git", "init", "-q", "-b", "main", target], check=True)
rng = random.Random(19)
paths = [f"d{a:02}/e{b}/f{c:02}.txt" for a in range(100) for b in range(10) for c in range(20)]
def blob(path, version):
    line = f"{path} version {version} ".encode()
    body = (line * (5000 // len(line) + 1))[:5000]
    return body + f"\n{rng.random()}\n".encode()
out = []
def emit(data): out.append(data)
when = 1500000000
for number in range(300):
    message = f"commit {number}".encode()
    emit(b"commit refs/heads/main\n")
    emit(f"committer Bench <bench@example.com> {when + number * 60} +0000\n".encode())
    emit(b"data %d\n%s\n" % (len(message), message))
    changes = paths if number == 0 else rng.sample(paths, 5)
    if number == 0:
        emit(b"M 100755 inline run.sh\ndata 10\n#!/bin/sh\n\n")
    for path in changes:
        data = blob(path, number)
        emit(f"M 100644 inline {path}\n".encode() + b"data %d\n" % len(data) + data + b"\n")
    if number and number % 10 == 0:
        emit(f"M 100644 inline added/n{number}.txt\ndata 4\nnew\n\n".encode())
    if number and number % 25 == 0:
        emit(f"D added/n{number - 20}.txt\n".encode())
    emit(b"\n")
subprocess.run(["git", "-C", target, "fast-import", "--quiet"], input=b"".join(out), check=True)
subprocess.run(["git", "-C", target, "checkout", "-q", "main"], check=True)
