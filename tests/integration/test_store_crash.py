"""The state store under real processes: concurrent writers, and writers killed mid-commit."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from flowctl.records import Run, TaskInstance
from flowctl.store import SCHEMA_VERSION, Store, parse_state_file

pytestmark = pytest.mark.timeout(60)

DAG = "shared"
RUN = "manual__2026-01-01T00:00:00+00:00"


# --- several writers at once ------------------------------------------------------------


def _writer(home: str, idx: int, commits: int, start, acks) -> None:
    """One process: `commits` read-modify-write transactions on the shared run, each acknowledged."""
    store = Store(Path(home))  # one long-lived Store per process, as the scheduler keeps one
    start.wait()
    done = 0
    for _ in range(commits):
        with store.transaction(timeout=50) as tx:
            rf = tx.run(DAG, RUN)
            assert rf is not None
            rf.update_run(total=rf.run.get("total", 0) + 1)
            mine = rf.ti(f"p{idx}")
            rf.put_ti(f"p{idx}", n=(mine.extra.get("n", 0) if mine else 0) + 1)
        done += 1  # acknowledged: the transaction returned
    acks.put((idx, done))


def test_concurrent_writers_lose_no_acknowledged_write(tmp_path: Path):
    """4 processes x 50 commits on one run file at once: per-process and shared counters equal the acknowledged totals."""
    procs_n, commits = 4, 50
    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    acks = ctx.Queue()
    home = tmp_path / "home"
    with Store(home).transaction() as tx:
        tx.create_run(Run(DAG, RUN, state="running"), [], {})
    procs = [ctx.Process(target=_writer, args=(str(home), i, commits, start, acks)) for i in range(procs_n)]
    for p in procs:
        p.start()
    start.set()

    # meanwhile, a lock-free reader only ever sees whole files and a counter that never goes back
    reader = Store(home)
    last = 0
    reads = 0
    while any(p.is_alive() for p in procs):
        data = reader.read_run(DAG, RUN)
        if data is not None:
            total = data.run.get("total", 0)
            assert total >= last
            assert sum(ti.get("n", 0) for ti in data.task_instances.values()) == total
            last = total
            reads += 1
    for p in procs:
        p.join(10)
        assert p.exitcode == 0
    acked = dict(acks.get(timeout=5) for _ in procs)

    data = Store(home).read_run(DAG, RUN)
    assert data is not None
    assert acked == {i: commits for i in range(procs_n)}
    assert data.run["total"] == sum(acked.values()) == procs_n * commits
    assert {tid: ti["n"] for tid, ti in data.task_instances.items()} == {f"p{i}": acked[i] for i in range(procs_n)}
    assert Store(home).seq() == procs_n * commits + 1  # and the commit that made the run
    assert reads > 0


# --- a writer killed mid-commit ----------------------------------------------------------

TASKS = 2000  # with 500-byte payloads: about 1.1 MB of run file, so kills land inside commits
EDGES = ("t0000", f"t{TASKS - 1:04d}")  # the first and last TI, rewritten by every commit

CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from flowctl.store import Store

    home, dag, run, tasks = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    store = Store(home)
    print("ready", flush=True)
    while True:
        with store.transaction() as tx:
            rf = tx.run(dag, run)
            gen = rf.run["gen"] + 1
            rf.update_run(gen=gen)
            for tid in (f"t{0:04d}", f"t{tasks - 1:04d}"):
                rf.put_ti(tid, gen=gen)
        print(gen, flush=True)  # acknowledged
""")


def _check_whole(home: Path, acked: int) -> int:
    """Read the run as a fresh reader would: it parses, has the schema, and is one commit throughout."""
    store = Store(home)
    path = store.run_path(DAG, RUN)
    raw = parse_state_file(path)  # raises StoreCorrupt on a torn or foreign file
    assert raw["_meta"]["1"]["schema"] == SCHEMA_VERSION
    parse_state_file(store.index_path)
    data = store.read_run(DAG, RUN)
    assert data is not None
    gen = data.run["gen"]
    tis = data.task_instances
    assert len(tis) == TASKS
    assert {tis[t]["gen"] for t in EDGES} == {gen}, "a file mixing two commits"
    assert all(len(ti["payload"]) == 500 for ti in tis.values())
    assert gen in (acked, acked + 1), f"state {gen} is neither the acknowledged {acked} nor the next one"
    # temp files are never taken for state
    assert store.run_ids(DAG) == [RUN]
    assert store.dag_ids_with_runs() == [DAG]
    assert store.active_runs() == [(DAG, RUN)]
    return gen


def test_sigkill_mid_commit_leaves_previous_or_new_state(tmp_path: Path):
    """A writer SIGKILLed at random moments (20 times) leaves a whole, schema-stamped old or new state, and its lock free."""
    home = tmp_path / "home"
    store = Store(home)
    with store.transaction() as tx:
        tx.create_run(Run(DAG, RUN, state="running", extra={"gen": 0}),
                      [TaskInstance(f"t{i:04d}", extra={"gen": 0, "payload": "x" * 500}) for i in range(TASKS)], {})
    assert store.run_path(DAG, RUN).stat().st_size > 1_000_000

    rng = random.Random(20261124)
    acked = 0
    killed_mid_write = 0
    seen_temps: set[str] = set()
    for round_ in range(20):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(home), DAG, RUN, str(TASKS)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.4))
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        out = child.stdout.read().split()
        err = child.stderr.read() if child.stderr else ""
        assert child.returncode == -signal.SIGKILL, err
        if out:
            acked = int(out[-1])
        temps = {n for n in os.listdir(store.run_path(DAG, RUN).parent) if n.endswith(".tmp")}
        killed_mid_write += bool(temps - seen_temps)  # this child died inside atomic_write
        seen_temps |= temps

        gen = _check_whole(home, acked)
        acked = gen  # the next child starts from what is on disk

        # the dead writer's lock is free: a new transaction gets it at once
        t0 = time.monotonic()
        with Store(home).transaction(timeout=5) as tx:
            rf = tx.run(DAG, RUN)
            assert rf is not None
            rf.update_run(checked=round_)
        assert time.monotonic() - t0 < 5
        assert Store(home).read_run(DAG, RUN).run["checked"] == round_

    # the kills landed while commits were going on (the state moved on between them); temp files
    # left by kills inside atomic_write were present at the reads above and never taken for state
    assert acked >= 20, f"state only reached generation {acked}"
    print(f"{killed_mid_write} of 20 kills left a temp file behind")


# --- a writer killed at every write step of one commit ----------------------------------------

STEP_CHILD = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from flowctl.records import Run, TaskInstance
    from flowctl.store import Store

    home, kill_at = Path(sys.argv[1]), int(sys.argv[2])
    calls = 0

    def step(real):
        def wrapped(*args, **kwargs):
            global calls
            calls += 1
            if calls == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)
        return wrapped

    # fault injection at the system-call layer flowctl.store writes through
    for name in ("write", "fsync", "replace"):
        setattr(os, name, step(getattr(os, name)))

    store = Store(home)
    with store.transaction() as tx:
        old = tx.run("shared", "big")
        old.update_run(state="success", gen=1)   # finishes: leaves the active index
        old.put_ti("t0000", gen=1)
        tx.create_run(Run("shared", "fresh", state="queued", extra={"gen": 1}), [TaskInstance("a")], {})
    print("committed", calls)
""")


def _prepare_step_home(home: Path) -> None:
    store = Store(home)
    with store.transaction() as tx:
        tx.create_run(Run(DAG, "big", state="running", extra={"gen": 0}),
                      [TaskInstance(f"t{i:04d}", extra={"gen": 0, "payload": "y" * 500}) for i in range(500)], {})


def test_sigkill_at_every_write_step_keeps_each_file_whole_and_the_index_safe(tmp_path: Path):
    """Killed before each write/fsync/replace of a two-run commit (a new run's document, a
    journal line and a fold of the run it finishes): every file is old or new, and no queued
    run is missing from the index."""
    import shutil

    pristine = tmp_path / "pristine"
    _prepare_step_home(pristine)
    steps_seen = 0
    unindexed: list[str] = []  # kill steps that left a queued/running run out of the active index
    for kill_at in range(1, 40):
        home = tmp_path / f"home{kill_at}"
        shutil.copytree(pristine, home)
        child = subprocess.run([sys.executable, "-c", STEP_CHILD, str(home), str(kill_at)],
                               capture_output=True, timeout=30)
        finished = child.returncode == 0
        if not finished:
            assert child.returncode == -signal.SIGKILL, child.stderr.decode()

        store = Store(home)
        for path in (home / "state").rglob("*.json"):
            if not path.name.startswith("."):
                parse_state_file(path)  # whole and schema-stamped, or StoreCorrupt fails the test
        big = store.read_run(DAG, "big")
        assert big is not None
        assert (big.run["gen"], big.run["state"], big.task_instances["t0000"]["gen"]) in (
            (0, "running", 0), (1, "success", 1))
        fresh = store.read_run(DAG, "fresh")
        active = set(store.active_runs())
        if fresh is not None:
            assert fresh.run["gen"] == 1 and fresh.task_instances["a"]["state"] == "none"
            # a queued run's file never exists without its index entry (else nothing would pick it up)
            if (DAG, "fresh") not in active:
                unindexed.append(f"step {kill_at}: queued run 'fresh' has a file but no index entry")
        if big.run["state"] == "running" and (DAG, "big") not in active:
            unindexed.append(f"step {kill_at}: running run 'big' is missing from the index")
        assert store.run_ids(DAG) == sorted(["big", *(["fresh"] if fresh is not None else [])])

        with store.transaction(timeout=5) as tx:  # the dead writer's lock is free
            rf = tx.run(DAG, "big")
            assert rf is not None
            rf.update_run(after=kill_at)
        if finished:
            assert fresh is not None and big.run["state"] == "success"
            assert (DAG, "big") not in active
            steps_seen = int(child.stdout.split()[-1])
            break
    else:
        pytest.fail("the commit never finished")
    assert kill_at == steps_seen + 1 and steps_seen >= 6
    assert unindexed == []
