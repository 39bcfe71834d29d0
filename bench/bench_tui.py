"""Time to open the flowctl TUI with 50 DAGs and 10,000 task instances, and how
the interface holds up while a writer commits every 50 ms.

    .venv/bin/python bench/bench_tui.py   (seeds a temporary folder through the Store API)
"""

import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flowctl.config import load_settings
from flowctl.service import Service

os.environ["FLOWCTL_TIMEZONE"] = "UTC"
root = Path(tempfile.mkdtemp(prefix="flowctl-bench-tui-"))
dags, home = root / "dags", root / "home"
N_DAGS, N_RUNS, N_TASKS = 50, 20, 10


def service():
    return Service.from_settings(load_settings(dags_folder=str(dags), home=str(home), default_timezone="UTC"))


if not dags.exists():
    dags.mkdir(parents=True)
    for d in range(N_DAGS):
        lines = ["import pendulum", "from flowctl import DAG, BashOperator",
                 f"with DAG(dag_id='dag_{d:02d}', schedule='@daily', start_date=pendulum.datetime(2026, 1, 1, tz='UTC'), catchup=False, tags=['team{d % 5}']) as dag:"]
        for t in range(N_TASKS):
            lines.append(f"    t{t} = BashOperator(task_id='task_{t}', bash_command='echo {t}')")
        for t in range(1, N_TASKS):
            lines.append(f"    t{t - 1} >> t{t}")
        (dags / f"dag_{d:02d}.py").write_text("\n".join(lines) + "\n")
    svc = service()
    t = time.perf_counter()
    bag = svc.dagbag()
    assert len(bag.dags) == N_DAGS, bag.errors
    for d in range(N_DAGS):
        spec = bag.dags[f"dag_{d:02d}"]
        for r in range(N_RUNS):
            logical = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=r)
            run_id = svc.create_run(spec, run_type="scheduled", logical_date=logical,
                                    interval=(logical, logical + timedelta(days=1)), now=logical)
            with svc.store.transaction() as tx:
                rf = tx.run(spec.dag_id, run_id)
                for i, tid in enumerate(spec.order):
                    s = logical + timedelta(days=1, minutes=i)
                    rf.put_ti(tid, state="failed" if (r == 7 and i == 5) else "success", try_number=1,
                              start_date=s.isoformat(), end_date=(s + timedelta(seconds=30)).isoformat(), duration=30.0)
                rf.update_run(state="success", start_date=logical.isoformat(), end_date=logical.isoformat())
    print(f"seeded {N_DAGS} DAGs x {N_RUNS} runs x {N_TASKS} tasks = {N_DAGS * N_RUNS * N_TASKS} task instances "
          f"in {time.perf_counter() - t:.1f} s")


async def open_once():
    from flowctl.tui.app import FlowctlApp
    from flowctl.tui.widgets.dag_table import DagTable

    t0 = time.perf_counter()
    svc = service()
    svc.dagbag()  # what run_tui does before the app starts
    app = FlowctlApp(svc)
    applies = []
    orig = app._apply

    def timed(*a):
        t = time.perf_counter()
        orig(*a)
        applies.append(time.perf_counter() - t)

    app._apply = timed
    async with app.run_test(size=(160, 45)) as pilot:
        while not (app.snapshot and app.screen.query_one(DagTable).row_count == N_DAGS):
            await asyncio.sleep(0.005)
        await pilot.pause()
        opened = time.perf_counter() - t0
    return opened, max(applies)


results = [asyncio.run(open_once()) for _ in range(5)]
opens = [o for o, _ in results]
print(f"open (Service + DAG bag + first screen with all {N_DAGS} DAGs): "
      f"median {statistics.median(opens):.2f} s, max {max(opens):.2f} s over {len(opens)} runs")
print(f"longest UI-thread snapshot apply: {max(a for _, a in results) * 1000:.0f} ms")


async def while_writing(seconds=5.0):
    """A writer commits every 50 ms (as a busy scheduler); measure the UI thread."""
    import threading

    from flowctl.tui.app import FlowctlApp
    from flowctl.tui.widgets.dag_table import DagTable

    svc = service()
    svc.dagbag()
    app = FlowctlApp(svc)
    applies = []
    orig = app._apply

    def timed(*a):
        t = time.perf_counter()
        orig(*a)
        applies.append(time.perf_counter() - t)

    app._apply = timed
    stop = threading.Event()
    writes = [0]

    def writer():
        w = service()
        spec = w.dagbag().dags["dag_00"]
        logical = datetime.now(UTC)
        run_id = w.create_run(spec, run_type="manual", logical_date=logical, interval=(logical, logical), now=logical)
        i = 0
        while not stop.is_set():
            with w.store.transaction() as tx:
                tx.run("dag_00", run_id).put_ti(spec.order[i % N_TASKS], state=("running", "success")[i % 2])
            writes[0] += 1
            i += 1
            time.sleep(0.05)

    async with app.run_test(size=(160, 45)) as pilot:
        while not (app.snapshot and app.screen.query_one(DagTable).row_count == N_DAGS):
            await asyncio.sleep(0.01)
        th = threading.Thread(target=writer)
        th.start()
        lags = []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - t - 0.01)
        t = time.perf_counter()
        await pilot.press("down")
        key = time.perf_counter() - t
        stop.set()
        th.join()
    applies = applies[1:]
    print(f"while writing ({writes[0]} commits in {seconds:.0f} s): {len(applies)} snapshots applied, "
          f"apply median {statistics.median(applies) * 1000:.0f} ms max {max(applies) * 1000:.0f} ms; "
          f"event-loop lag max {max(lags) * 1000:.0f} ms; a key press handled in {key * 1000:.0f} ms")


asyncio.run(while_writing())
cache = home / "cache" / "dagbag.json"
cache.unlink()
t = time.perf_counter()
opened, _ = asyncio.run(open_once())
print(f"cold open (no DAG cache: 50 files imported): {opened:.2f} s")

import shutil  # noqa: E402

shutil.rmtree(root, ignore_errors=True)
