"""One state commit: what the engine does when one task instance changes.

Through the real Store (fsync on): a transaction that updates one task
instance of an active run (`tx.run(...)`, `put_ti(...)`), as the loop commits
a finished try: a result (success, up_for_retry, failed in turn), so every
commit is synced (a commit that only queues a try or marks it running is
written without a sync, and is cheaper than these). Measured on:

- an active run of 10 and of 10,000 task instances: a commit appends one
  journal line, so it should cost the same (target: <= 2 ms at 10,000);
- a home with 1,000 and with 100,000 task instances of finished history
  beside the active run (history is never rewritten).

Prints the median and p95 of 500 commits (after 20 warm-ups) each. The
journal is folded into the run's document when it has grown as large as
the document; those commits are among the 500 (they show in the p95 and max).

Run: .venv/bin/python bench/bench_commit.py
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from flowctl.records import Run, TaskInstance
from flowctl.store import Store

COMMITS, WARMUP = 500, 20
TARGET_MS = 2.0
STAMP = "2026-11-24T06:24:07.460740+00:00"


def active_run(store: Store, dag_id: str, run_id: str, width: int) -> None:
    """An active run of `width` task instances, half of them finished as the loop leaves them."""
    tis = []
    for i in range(width):
        done = i % 2 == 0
        tis.append(TaskInstance(
            f"t{i:05d}", state="success" if done else "none", try_number=1 if done else 0, operator="PythonOperator",
            max_tries=1, queued_at=STAMP if done else None, start_date=STAMP if done else None,
            end_date=STAMP if done else None, duration=0.01 if done else None, exit_code=0 if done else None,
            pid=9355 if done else None, hostname="vm" if done else None, fingerprint="666fc08fcc25d545",
            tries=[{"try_number": 1, "state": "success", "start_date": STAMP, "end_date": STAMP, "duration": 0.01,
                    "exit_code": 0, "error": None, "fingerprint": "666fc08fcc25d545"}] if done else []))
    version = {"order": [t.task_id for t in tis],
               "tasks": {t.task_id: {"operator": "PythonOperator", "upstream": [], "fingerprint": "x",
                                     "trigger_rule": "all_success"} for t in tis}}
    with store.transaction() as tx:
        tx.create_run(Run(dag_id, run_id, run_type="manual", state="running", logical_date=STAMP), tis, version)


def history(store: Store, tis: int) -> None:
    """Finished 5-task runs, written through the store in batches."""
    runs = tis // 5
    for start in range(0, runs, 500):
        with store.transaction() as tx:
            for i in range(start, min(runs, start + 500)):
                dag_id = f"dag{i % 10:02d}"
                tx.create_run(Run(dag_id, f"scheduled__{i:06d}", run_type="scheduled", state="success"),
                              [TaskInstance(f"t{k}", state="success", try_number=1) for k in range(5)], {})


def measure(store: Store, dag_id: str, run_id: str, width: int) -> list[float]:
    """Seconds per commit: one task instance of the active run moves on."""
    states = ("success", "up_for_retry", "failed")  # results: each one synced
    times = []
    for k in range(WARMUP + COMMITS):
        tid = f"t{(2 * k + 1) % width:05d}"
        t0 = time.perf_counter()
        with store.transaction() as tx:
            rf = tx.run(dag_id, run_id)
            rf.put_ti(tid, state=states[k % 3], try_number=1, pid=os.getpid(), start_date=STAMP)
        if k >= WARMUP:
            times.append(time.perf_counter() - t0)
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def report(label: str, times: list[float], target: float | None) -> None:
    med, high = statistics.median(times) * 1000, p95(times) * 1000
    verdict = "" if target is None else f"; target median <= {target} ms: {'met' if med <= target else 'MISSED'}"
    print(f"{label}: median {med:.2f} ms, p95 {high:.2f} ms, max {max(times) * 1000:.2f} ms{verdict}")


def main() -> None:
    print(f"machine: {os.cpu_count()} CPUs; {COMMITS} commits after {WARMUP} warm-ups; fsync on")
    for width in (10, 10_000):
        home = Path(tempfile.mkdtemp(prefix=f"flowctl-bench-commit-{width}-"))
        try:
            active_run(Store(home), "wide", "manual__now", width)
            store = Store(home)  # a fresh Store, as a process starting on this home
            size = store.run_path("wide", "manual__now").stat().st_size
            report(f"active run of {width:>6,} TIs ({size / 1e6:.2f} MB document)",
                   measure(store, "wide", "manual__now", width), TARGET_MS if width > 10 else None)
        finally:
            shutil.rmtree(home, ignore_errors=True)
    for tis in (1_000, 100_000):
        home = Path(tempfile.mkdtemp(prefix=f"flowctl-bench-commit-h{tis}-"))
        try:
            store = Store(home)
            history(store, tis)
            active_run(store, "busy", "manual__now", 5)
            store = Store(home)
            report(f"5-TI run beside {tis:>7,} TIs of history", measure(store, "busy", "manual__now", 5), None)
        finally:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
