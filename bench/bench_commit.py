"""One state commit with 1,000 and with 100,000 task instances of history.

A commit here is what the scheduler does when one task changes: a transaction
that updates one task instance of one active 5-task run (`Store.transaction()`,
`tx.run(...)`, `put_ti(...)`), through the real Store with fsync.

History: finished 5-task runs spread over 10 DAGs (200 runs = 1,000 TIs;
20,000 runs = 100,000 TIs), made by copying one real run file (written through
the Store API) under different run ids. Finished runs are not in the index's
active set; the index holds the DAG flags, the run under test and two other
active runs, as a busy home would.

Prints the median and p95 per commit over 200 commits (after 10 warm-up
commits) for both sizes. Target: <= 5 ms at both.

For context it also times the same commit on a wide active run (202 TIs with
the fields and one-try history the scheduler writes, about 150 KB, like the
fan-out run of bench_tasks.py): a commit rewrites the whole run file, so its cost
follows the size of the run being changed, not the history.

Run: .venv/bin/python bench/bench_commit.py
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from flowctl.store import Store

DAGS = 10
TASKS = ("extract", "clean", "transform", "load", "report")
COMMITS, WARMUP = 200, 10
TARGET_MS = 5.0


def finished_run(store: Store, dag_id: str, run_id: str) -> None:
    with store.transaction() as tx:
        rf = tx.run(dag_id, run_id, create=True)
        rf.update_run(dag_id=dag_id, run_id=run_id, run_type="scheduled", state="success",
                      logical_date="2026-01-01T00:00:00+00:00", start_date="2026-01-01T00:00:01+00:00",
                      end_date="2026-01-01T00:00:09+00:00", conf={}, owner=None)
        for tid in TASKS:
            rf.put_ti(tid, state="success", try_number=1, operator="PythonOperator", max_tries=1,
                      start_date="2026-01-01T00:00:02+00:00", end_date="2026-01-01T00:00:03+00:00",
                      duration=1.0, exit_code=0, pid=12345, hostname="laptop",
                      tries=[{"try_number": 1, "state": "success", "duration": 1.0}])
            rf.set_xcom(tid, "return_value", {"rows": 100})
        rf.set_dag_version({"version": "abc123", "order": list(TASKS)})


def build_home(runs: int) -> tuple[Path, Store, float]:
    """A home with `runs` finished 5-TI runs; returns (home, store, seconds to build)."""
    t0 = time.perf_counter()
    home = Path(tempfile.mkdtemp(prefix=f"flowctl-bench-commit-{runs}-"))
    store = Store(home)
    finished_run(store, "dag00", "template")
    template = json.loads(store.run_path("dag00", "template").read_bytes())
    os.unlink(store.run_path("dag00", "template"))
    per_dag = runs // DAGS
    for d in range(DAGS):
        dag_id = f"dag{d:02d}"
        folder = store.runs_dir / dag_id
        folder.mkdir(mode=0o700, exist_ok=True)
        for i in range(per_dag):
            run_id = f"scheduled__2020-01-01T00:00:00+00:00_{i:06d}"
            doc = template
            doc["run"]["1"]["dag_id"] = dag_id
            doc["run"]["1"]["run_id"] = run_id
            fd = os.open(folder / f"{run_id}.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(json.dumps(doc, separators=(",", ":")).encode())
    # the index: flags for every DAG, three active runs (the one under test among them)
    with store.transaction() as tx:
        for d in range(DAGS):
            tx.set_dag_flags(f"dag{d:02d}", paused=False)
        for dag_id, run_id in (("dag00", "manual__now"), ("dag01", "manual__a"), ("dag02", "manual__b")):
            rf = tx.run(dag_id, run_id, create=True)
            rf.update_run(dag_id=dag_id, run_id=run_id, run_type="manual", state="running", conf={})
            for tid in TASKS:
                rf.put_ti(tid, state="none", try_number=0, operator="PythonOperator", max_tries=1,
                          start_date=None, end_date=None, duration=None, exit_code=None, pid=None,
                          hostname=None, tries=[])
    return home, store, time.perf_counter() - t0


def wide_run(store: Store, dag_id: str, run_id: str, width: int) -> None:
    """An active run with `width` finished-looking TIs, as the scheduler leaves them."""
    stamp = "2026-11-24T06:24:07.460740+00:00"
    with store.transaction() as tx:
        rf = tx.run(dag_id, run_id, create=True)
        rf.update_run(dag_id=dag_id, run_id=run_id, run_type="manual", state="running", conf={})
        for i in range(width):
            try_doc = {"try_number": 1, "state": "success", "start_date": stamp, "end_date": stamp,
                       "duration": 0.0, "exit_code": 0, "error": None, "fingerprint": "666fc08fcc25d545"}
            rf.put_ti(f"t{i:03d}", state="success", try_number=1, operator="PythonOperator", max_tries=1,
                      start_date=stamp, end_date=stamp, duration=0.0, exit_code=0, pid=9355,
                      hostname="vm", tries=[try_doc], queued_at=stamp, error=None, next_retry_at=None,
                      fingerprint="666fc08fcc25d545", success_fingerprint="666fc08fcc25d545")
        rf.set_dag_version({"order": [f"t{i:03d}" for i in range(width)],
                            "tasks": {f"t{i:03d}": {"operator": "PythonOperator", "upstream": ["start"],
                                                    "downstream": ["join"], "trigger_rule": "all_success"}
                                      for i in range(width)}})


def count_tis(store: Store) -> int:
    n = 0
    for dag_id in store.dag_ids_with_runs():
        n += len(store.run_ids(dag_id)) * len(TASKS)
    return n


def measure(store: Store, dag_id: str = "dag00", run_id: str = "manual__now",
            tasks: tuple[str, ...] = TASKS) -> list[float]:
    """Seconds per commit: one TI of the active run changes state."""
    states = ("queued", "running", "success")
    times = []
    for k in range(WARMUP + COMMITS):
        t0 = time.perf_counter()
        with store.transaction() as tx:
            rf = tx.run(dag_id, run_id)
            rf.put_ti(tasks[k % len(tasks)], state=states[k % 3], try_number=k, pid=os.getpid(),
                      start_date="2026-11-24T00:00:00+00:00")
        if k >= WARMUP:
            times.append(time.perf_counter() - t0)
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def main() -> None:
    print(f"machine: {os.cpu_count()} CPUs; {COMMITS} commits per size after {WARMUP} warm-ups; fsync on")
    for runs in (200, 20_000):
        home, store, built = build_home(runs)
        try:
            store = Store(home)  # a fresh Store, as a scheduler starting on this home
            tis = count_tis(store)
            assert store.active_runs() and len(store.active_runs()) == 3
            times = measure(store)
            med, high = statistics.median(times) * 1000, p95(times) * 1000
            verdict = "met" if high <= TARGET_MS and med <= TARGET_MS else "MISSED"
            print(f"history {tis:>7,} TIs ({runs:,} finished runs + 3 active, built in {built:.1f} s): "
                  f"commit median {med:.2f} ms, p95 {high:.2f} ms (min {min(times) * 1000:.2f}, "
                  f"max {max(times) * 1000:.2f}); index {store.index_path.stat().st_size} B; "
                  f"target <= {TARGET_MS} ms: {verdict}")
        finally:
            shutil.rmtree(home, ignore_errors=True)

    home = Path(tempfile.mkdtemp(prefix="flowctl-bench-commit-wide-"))
    try:
        store = Store(home)
        wide_run(store, "fanout", "manual__wide", 202)
        store = Store(home)
        times = measure(store, "fanout", "manual__wide", tuple(f"t{i:03d}" for i in range(0, 200, 40)))
        size = store.run_path("fanout", "manual__wide").stat().st_size
        print(f"context: the same commit on an active run of 202 TIs ({size / 1000:.0f} kB run file): "
              f"median {statistics.median(times) * 1000:.2f} ms, p95 {p95(times) * 1000:.2f} ms")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
