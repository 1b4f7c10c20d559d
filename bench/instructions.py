"""Instructions a message costs the central system, counted by callgrind: steady where time is not.

    .venv/bin/python bench/instructions.py                       # the working tree
    .venv/bin/python bench/instructions.py --at 308e011 HEAD     # revisions side by side

Wall and CPU time on this virtual machine drift by 10-50 % within minutes (decision 0002,
"Applied (12)": a change measured +12 % in one pair of `bench/server.py` runs and nothing in
six more). Instructions do not. This runs `bench/group_commit.py`'s workload (the realistic
cycle fed as text frames into real sessions of a `CentralSystem`: parse, validate, handler,
group commit, message log, answer; `--chargers` chargers a round, every round answered, no
network) under `valgrind --tool=callgrind`, once with `SHORT` rounds and once with `LONG`. The
difference, divided by the messages of the extra rounds, is what a message costs the process
in instructions: start-up, imports and migrations cancel out. Two runs of the same code
agreed within 0.2 %. On SQLite the count includes SQLite's own work (in the process's
thread); PostgreSQL's is another process and is not counted. A revision (`--at`) runs from a
`git archive` of its `src/` and `bench/`, on this checkout's virtual environment.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHORT, LONG = 10, 40


def warm_up(rounds: int) -> int:
    """`bench/group_commit.py`'s warm-up rounds for `rounds` measured ones."""
    return max(3, rounds // 10)


def counted(tree: Path, db: str, chargers: int, rounds: int) -> int:
    """Instructions of one run of `bench/group_commit.py` from `tree` under callgrind."""
    with tempfile.TemporaryDirectory() as out:
        env = os.environ | {"PYTHONPATH": f"{tree / 'src'}{os.pathsep}{tree / 'bench'}"}
        run = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}/callgrind.out",
                sys.executable,
                str(tree / "bench" / "group_commit.py"),
                "--db",
                db,
                "--batches",
                str(chargers),
                "--rounds",
                str(rounds),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
            check=True,
        )
    found = re.search(r"I\s+refs:\s+([\d,]+)", run.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from callgrind:\n{run.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def per_message(tree: Path, db: str, chargers: int) -> float:
    short = counted(tree, db, chargers, SHORT)
    long = counted(tree, db, chargers, LONG)
    messages = (LONG + warm_up(LONG) - SHORT - warm_up(SHORT)) * chargers
    return (long - short) / messages


def source_of(revision: str | None, scratch: Path) -> tuple[Path, str]:
    """The tree to run and its name: the checkout, or `revision` unpacked into `scratch`."""
    if revision is None:
        return ROOT, "working tree"
    commit = subprocess.run(
        ["git", "rev-parse", "--short", revision], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    if not commit:
        raise SystemExit(f"no such revision: {revision}")
    tree = scratch / commit
    tree.mkdir()
    archive = subprocess.run(
        ["git", "archive", commit, "src", "bench"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree, commit


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--at", nargs="*", default=[], metavar="REV")
    ap.add_argument("--db", nargs="*", default=["sqlite", "pg"], choices=["sqlite", "pg"])
    ap.add_argument("--chargers", type=int, default=64)
    args = ap.parse_args()
    if not 1 <= args.chargers <= 1000:
        raise SystemExit("--chargers: 1 to 1000")
    print(f"# bench/instructions.py ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n")
    print(f"{args.chargers} chargers a round; rounds {SHORT} and {LONG} (plus warm-up).\n")
    print("| code | database | instructions a message |\n|---|---|--:|")
    with tempfile.TemporaryDirectory() as scratch:
        for revision in args.at or [None]:
            tree, name = source_of(revision, Path(scratch))
            for db in args.db:
                count = per_message(tree, db, args.chargers)
                print(f"| {name} | {db} | {count:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
