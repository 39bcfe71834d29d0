"""Time to open the flowctl TUI with 50 DAGs and 10,000 task instances, how
the interface holds up while a writer commits every 50 ms, the time from a key
press to the screen that shows its result, and what following the DAG folder
(a look every second) costs while nothing changes.

    .venv/bin/python bench/bench_tui.py [open] [writing] [keys] [idle] [cold]
    (all of them when none is named; seeds a temporary folder through the Store API)

Key-to-screen latency is measured inside the app (Textual's headless driver,
160x45): from posting the key until the screen's widgets show the result and
Textual has finished the refresh the key caused. A terminal adds its own
drawing time on top.
"""

import asyncio
import os
import shutil
import statistics
import sys
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


def bench_open():
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


def log_of_20k_lines():
    """A 20,000-line log for task_5 of each DAG's newest run (one file, hard-linked;
    the TUI opens its last 200 KB)."""
    svc = service()
    first = None
    for d in range(N_DAGS):
        dag_id = f"dag_{d:02d}"
        path = svc.log_path(dag_id, svc.store.run_ids(dag_id)[-1], "task_5", None)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        if first is None:
            path.write_text("".join(f"{i:05d} {'ERROR upstream said no' if i % 500 == 0 else 'processing a row'}\n"
                                    for i in range(20_000)))
            first = path
        else:
            os.link(first, path)


class Terminal:
    """`flowctl tui` in a real terminal (tmux, 160x45): keys in, the screen's text out."""

    def __init__(self, width=160, height=45):
        import shlex

        self.name = f"flowctl-bench-{os.getpid()}"
        cmd = shlex.join([sys.executable, "-m", "flowctl", "--home", str(home), "--dags-folder", str(dags), "tui"])
        self.tmux("new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height),
                  f"FLOWCTL_TIMEZONE=UTC {cmd}")

    def tmux(self, *args):
        import subprocess

        return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout

    def screen(self):
        """The screen with its colours, less the header's line (its clock ticks)."""
        return self.tmux("capture-pane", "-p", "-e", "-t", self.name).split("\n", 1)[-1]

    @staticmethod
    def plain(screen):
        import re

        return re.sub(r"\x1b\[[0-9;]*m", "", screen)

    def wait_for(self, text, timeout=30.0):
        t = time.perf_counter()
        while text not in self.plain(self.screen()):
            if time.perf_counter() - t > timeout:
                raise SystemExit(f"{text!r} did not show within {timeout:.0f} s")
            time.sleep(0.002)

    def settle(self, quiet=0.15):
        """Wait until the screen has not changed for `quiet` seconds (late updates land first)."""
        last, since = self.screen(), time.perf_counter()
        while time.perf_counter() - since < quiet:
            time.sleep(0.02)
            now = self.screen()
            if now != last:
                last, since = now, time.perf_counter()
        return last

    def press(self, key, until=None, timeout=30.0):
        """Send `key` to a settled screen; seconds until the screen changed (and,
        with `until`, shows that text)."""
        before = self.settle()
        t = time.perf_counter()
        self.tmux("send-keys", "-t", self.name, key)
        while True:
            now = self.screen()
            if now != before and (until is None or until in self.plain(now)):
                return time.perf_counter() - t
            if time.perf_counter() - t > timeout:
                raise SystemExit(f"{key}: the screen did not change within {timeout:.0f} s (waiting for {until!r})")
            time.sleep(0.002)

    def close(self):
        self.tmux("kill-session", "-t", self.name)


def key_to_screen(rounds=15):
    """Each key, `rounds` times, in a real terminal: press, then wait until the screen shows the result."""
    term = Terminal()
    times: dict[str, list[float]] = {}

    def timed(name, key, until=None):
        try:
            times.setdefault(name, []).append(term.press(key, until))
        except SystemExit as exc:
            print(term.plain(term.screen()))
            raise SystemExit(f"round {r}, {name}: {exc}") from None

    try:
        term.wait_for("dag_00")
        time.sleep(1.0)
        for r in range(rounds):
            timed("j in the DAG tree", "j")
            timed("l to the DAG table", "l")
            timed("j in the DAG table", "j")
            dag = f"dag_{r + 1:02d}"
            timed("Enter: a DAG's grid (20 runs x 10 tasks)", "Enter", f"{dag}  @daily")
            for k in range(5):
                timed("j in the grid", "j", f"{dag}.task_{k + 1} (BashOperator)")
            timed("h in the grid (older run)", "h", "run scheduled__2026-01-19")
            timed("l in the grid (newer run)", "l", "run scheduled__2026-01-20")
            timed("Enter: a task's details and 20,000-line log", "Enter", "19999 processing a row")
            term.tmux("send-keys", "-t", term.name, "/", "ERROR")
            term.wait_for("ERROR")
            timed("Enter after /ERROR: the log searched, matches lit", "Enter", "match ")
            timed("n: the next match", "n")
            timed("Esc: the search cleared", "Escape")
            timed("Esc: back to the grid", "Escape", "1 Grid")
            timed("Esc: back to the DAG list", "Escape", "last run")
            timed("h to the DAG tree", "h")
    finally:
        term.close()
    for name, values in times.items():
        values.sort()
        print(f"  {name:<50} median {statistics.median(values) * 1000:5.0f} ms   max {values[-1] * 1000:5.0f} ms"
              f"   ({len(values)} presses)")


async def idle(seconds=10.0):
    """CPU the TUI uses while nothing changes: the store poll every 0.5 s, a
    look at the DAG folder every second, the header's scheduler status every 2 s."""
    from flowctl.tui.app import FlowctlApp
    from flowctl.tui.widgets.dag_table import DagTable

    svc = service()
    svc.dagbag()
    app = FlowctlApp(svc)
    async with app.run_test(size=(160, 45)) as pilot:
        while not (app.snapshot and app.screen.query_one(DagTable).row_count == N_DAGS):
            await asyncio.sleep(0.01)
        await pilot.pause(1.0)
        before, cpu, wall = app.refreshes, time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        print(f"idle for {wall:.0f} s: {cpu / wall * 100:.1f}% of one core, {app.refreshes - before} redraws")


def bench_keys():
    log_of_20k_lines()
    if not shutil.which("tmux"):
        print("key to screen: skipped (needs tmux)")
        return
    print("key to screen, in tmux at 160x45 (50 DAGs, 10,000 task instances):")
    key_to_screen()


def bench_idle():
    svc = service()
    svc.dagbag()
    looks = []
    for _ in range(20):
        t = time.perf_counter()
        svc.dagbag(reload=True)
        looks.append(time.perf_counter() - t)
    print(f"a look at the unchanged DAG folder ({N_DAGS} files): median {statistics.median(looks) * 1000:.1f} ms, "
          f"max {max(looks) * 1000:.1f} ms")
    asyncio.run(idle())


def bench_cold():
    (home / "cache" / "dagbag.json").unlink()
    opened, _ = asyncio.run(open_once())
    print(f"cold open (no DAG cache: 50 files imported): {opened:.2f} s")


BENCHES = {"open": bench_open, "writing": lambda: asyncio.run(while_writing()), "keys": bench_keys,
           "idle": bench_idle, "cold": bench_cold}
try:
    for name in sys.argv[1:] or list(BENCHES):
        BENCHES[name]()
finally:
    shutil.rmtree(root, ignore_errors=True)
