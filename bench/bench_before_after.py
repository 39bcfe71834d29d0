"""This checkout against an earlier commit, the same work alternated in one run.

A claim that a change made flowctl faster is a comparison, and this VM's speed
drifts by up to 1.4x between runs minutes apart: so the two versions run in
turns (before, after, before, after ...), each in its own home, and the
figure is the ratio of their medians, beside every sample. Beside the wall
time, the CPU time (user + system) of the command and every process under
it that was reaped: a change can save CPU that a run on 2 slots does not
turn into wall time, and CPU time drifts less than wall time here.

The earlier commit is checked out into a temporary `git worktree` with a
virtualenv of its own (`pip install -e`, from the package index pip is
configured for), removed at the end. The work, on 2 workers:

- `backfill`: `flowctl backfill` of 365 daily intervals x 5 no-op tasks (the
  DAG of `bench_backfill.py`), each round in a fresh home;
- `fanout`: `flowctl run` of start -> 200 no-op tasks -> join (the DAG of
  `bench_vs_luigi.py`), each version in one home, one untimed run first;
- `one`: `flowctl run` of a one-task DAG, the same way;
- `plan`: `flowctl backfill --dry-run --json` of five years of an hourly DAG
  (43,800 intervals), the plan only, in a home where the first 10 days of that
  range have runs (240, made untimed by a backfill first);
- `list`: `flowctl dags list` beside an hourly `catchup=True` DAG that starts
  in 2020 and has no run (its next run is computed from what is due).

Run: .venv/bin/python bench/bench_before_after.py --before REV [--work backfill] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from bench_backfill import DAG as BACKFILL_DAG  # run as a script: its folder is on the path
from bench_vs_luigi import FLOWCTL_DAGS

ROOT = Path(__file__).resolve().parent.parent

BEHIND = """
    import pendulum
    from flowctl import DAG, EmptyOperator

    with DAG("behind", schedule="@hourly", start_date=pendulum.datetime(2020, 1, 1, tz="UTC"), catchup=True) as dag:
        EmptyOperator(task_id="t")
"""

DAGS = {"year.py": BACKFILL_DAG, **FLOWCTL_DAGS, "behind.py": BEHIND}  # bench_backfill's and bench_vs_luigi's, and one years behind

WORK = {
    "backfill": ["backfill", "year", "--start", "2025-01-01", "--end", "2025-12-31", "--json"],
    "fanout": ["run", "fanout", "--json"],
    "one": ["run", "one", "--json"],
    "plan": ["backfill", "behind", "--start", "2021-01-01", "--end", "2025-12-31", "--dry-run", "--json"],
    "list": ["dags", "list", "--json"],
}


def checkout(rev: str, where: Path) -> Path:
    """A worktree of `rev` with its own virtualenv; returns its `flowctl`."""
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(where), rev], check=True)
    subprocess.run([sys.executable, "-m", "venv", str(where / ".venv")], check=True)
    pip = subprocess.run([str(where / ".venv" / "bin" / "python"), "-m", "pip", "install", "-q", "-e", str(where)],
                         capture_output=True, text=True)
    if pip.returncode != 0:
        raise SystemExit(f"could not install {rev} into {where}: {pip.stderr.strip()[-1000:]}")
    return where / ".venv" / "bin" / "flowctl"


def cpu_of_children() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def timed(exe: Path, args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and the processes it reaped)."""
    cpu0 = cpu_of_children()
    t0 = time.perf_counter()
    proc = subprocess.run([str(exe), *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{exe} {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return elapsed, cpu_of_children() - cpu0


def report(what: str, unit_of: dict[str, list[float]], before: str, rounds: int) -> None:
    for v, ts in unit_of.items():
        label = before if v == "before" else "this checkout"
        print(f"{what} {v:6} ({label}): median {statistics.median(ts):.3f} s   [{', '.join(f'{t:.3f}' for t in ts)}]")
    ratio = statistics.median(unit_of["after"]) / statistics.median(unit_of["before"])
    wins = sum(a < b for a, b in zip(unit_of["after"], unit_of["before"], strict=True))
    print(f"{what} after / before: {ratio:.2f}x (medians); after was lower in {wins} of {rounds} rounds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the earlier commit (any git revision)")
    parser.add_argument("--work", choices=sorted(WORK), default="backfill")
    parser.add_argument("--rounds", type=int, default=5)
    opts = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="flowctl-before-after-"))
    tree = root / "before"
    try:
        exes = {"before": checkout(opts.before, tree), "after": Path(sys.executable).parent / "flowctl"}
        dags = root / "dags"
        dags.mkdir()
        for name, source in DAGS.items():
            (dags / name).write_text(textwrap.dedent(source))
        base = {**os.environ, "FLOWCTL_DAGS_FOLDER": str(dags), "FLOWCTL_WORKERS": "2",
                "FLOWCTL_NOTIFY_DESKTOP": "false"}
        envs = {v: {**base, "FLOWCTL_HOME": str(root / f"home-{v}")} for v in exes}
        args = WORK[opts.work]
        if opts.work != "backfill":
            for v, exe in exes.items():
                if opts.work == "plan":  # runs to look up: a plan's cost grew with them
                    timed(exe, ["backfill", "behind", "--start", "2021-01-01", "--end", "2021-01-10 23:00", "--json"],
                          envs[v])
                timed(exe, args, envs[v])  # fills the DAG cache and starts the home
        walls: dict[str, list[float]] = {v: [] for v in exes}
        cpus: dict[str, list[float]] = {v: [] for v in exes}
        for _ in range(opts.rounds):
            for v, exe in exes.items():
                if opts.work == "backfill":
                    shutil.rmtree(root / f"home-{v}", ignore_errors=True)
                wall, cpu = timed(exe, args, envs[v])
                walls[v].append(wall)
                cpus[v].append(cpu)
        print(f"machine: {os.cpu_count()} CPUs; workers=2; work: {opts.work}; {opts.rounds} rounds, alternated")
        report("wall", walls, opts.before, opts.rounds)
        report("cpu ", cpus, opts.before, opts.rounds)
    finally:
        if tree.exists():
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
