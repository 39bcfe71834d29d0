"""Per-task overhead of `flowctl run` on the local executor (2 workers).

(a) a 202-task fan-out (start -> 200 no-op PythonOperator tasks -> join) run with
    `flowctl run fanout --json`;
(b) a 3-task DAG (start -> one -> join) the same way;
    per-task overhead = (T_fanout - T_3task) / 199, in ms (target <= 2 ms;
    peers are measured side by side by bench_vs_luigi.py, not quoted here);
(c) this machine's floor: forking and reaping 202 bare processes
    (os.fork + os._exit(0) + waitpid), at most 2 alive at once;
(d) a chain of 50 no-op tasks: from the run's JSON (each task's start_date and
    end_date), the gap between one task's end and the next one's start, mean and median.

Each measurement is repeated 3 times and the median printed. Every `flowctl run`
uses a temporary home and DAG folder (FLOWCTL_HOME, FLOWCTL_DAGS_FOLDER,
FLOWCTL_WORKERS=2); one untimed run of each DAG first fills the DAG-file cache.

Run: .venv/bin/python bench/bench_tasks.py
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import datetime
from pathlib import Path

REPEATS = 3
FANOUT = 200
CHAIN = 50

DAGS = {
    "fanout.py": f"""
        import pendulum
        from flowctl import DAG, PythonOperator

        def noop():
            pass

        with DAG("fanout", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
            start = PythonOperator(task_id="start", python_callable=noop)
            join = PythonOperator(task_id="join", python_callable=noop)
            for i in range({FANOUT}):
                start >> PythonOperator(task_id=f"t{{i:03d}}", python_callable=noop) >> join
    """,
    "three.py": """
        import pendulum
        from flowctl import DAG, PythonOperator

        def noop():
            pass

        with DAG("three", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
            start = PythonOperator(task_id="start", python_callable=noop)
            one = PythonOperator(task_id="one", python_callable=noop)
            join = PythonOperator(task_id="join", python_callable=noop)
            start >> one >> join
    """,
    "chain.py": f"""
        import pendulum
        from flowctl import DAG, PythonOperator

        def noop():
            pass

        with DAG("chain", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
            prev = None
            for i in range({CHAIN}):
                t = PythonOperator(task_id=f"c{{i:02d}}", python_callable=noop)
                if prev is not None:
                    prev >> t
                prev = t
    """,
}


def flowctl_exe() -> str:
    exe = Path(sys.executable).with_name("flowctl")
    return str(exe) if exe.exists() else shutil.which("flowctl") or "flowctl"


class Bench:
    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="flowctl-bench-home-"))
        self.dags = Path(tempfile.mkdtemp(prefix="flowctl-bench-dags-"))
        for name, source in DAGS.items():
            (self.dags / name).write_text(textwrap.dedent(source))
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # as installed: bytecode cached
        self.env = {**env, "FLOWCTL_HOME": str(self.home), "FLOWCTL_DAGS_FOLDER": str(self.dags),
                    "FLOWCTL_WORKERS": "2", "FLOWCTL_NOTIFY_DESKTOP": "false"}
        for key in ("FLOWCTL_EXECUTOR", "FLOWCTL_NOTIFY_WEBHOOK", "FLOWCTL_NOTIFY_COMMAND"):
            self.env.pop(key, None)

    def run(self, dag_id: str) -> tuple[float, dict]:
        """Wall time of `flowctl run DAG --json`, and its JSON document."""
        cmd = [flowctl_exe(), "run", dag_id, "--json"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, cwd=self.dags,
                              stdin=subprocess.DEVNULL)
        elapsed = time.perf_counter() - t0
        if proc.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr}{proc.stdout[-2000:]}")
        doc = json.loads(proc.stdout)
        bad = [t["task_id"] for t in doc["tasks"] if t["state"] != "success"]
        if bad:
            sys.exit(f"{dag_id}: tasks not successful: {bad[:5]}")
        return elapsed, doc

    def close(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)
        shutil.rmtree(self.dags, ignore_errors=True)


def fork_floor(n: int = FANOUT + 2, alive_max: int = 2) -> float:
    """Seconds to fork and reap `n` bare processes with at most `alive_max` alive at once."""
    t0 = time.perf_counter()
    alive = 0
    for _ in range(n):
        if alive == alive_max:
            os.waitpid(-1, 0)
            alive -= 1
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        alive += 1
    while alive:
        os.waitpid(-1, 0)
        alive -= 1
    return time.perf_counter() - t0


def gaps_ms(doc: dict) -> list[float]:
    """For each chain link, next task's start minus this task's end, in ms."""
    tis = {t["task_id"]: t for t in doc["tasks"]}
    out = []
    for i in range(CHAIN - 1):
        end = datetime.fromisoformat(tis[f"c{i:02d}"]["end_date"])
        start = datetime.fromisoformat(tis[f"c{i + 1:02d}"]["start_date"])
        out.append((start - end).total_seconds() * 1000)
    return out


def lives_ms(doc: dict) -> list[float]:
    """Each try's life, fork to reap, in ms (the fork server stamps start and end)."""
    return [(datetime.fromisoformat(t["end_date"]) - datetime.fromisoformat(t["start_date"])).total_seconds() * 1000
            for t in doc["tasks"] if t.get("start_date") and t.get("end_date")]


def main() -> None:
    bench = Bench()
    try:
        for dag_id in ("fanout", "three", "chain"):  # fill the DAG-file cache, start nothing timed
            bench.run(dag_id)

        t_fan, t_three, floors, overheads = [], [], [], []
        chain_mean, chain_median, chain_total, lives = [], [], [], []
        for _ in range(REPEATS):
            tf, doc = bench.run("fanout")
            assert len(doc["tasks"]) == FANOUT + 2
            lives.append(statistics.median(lives_ms(doc)))
            t3, _ = bench.run("three")
            t_fan.append(tf)
            t_three.append(t3)
            overheads.append((tf - t3) / (FANOUT - 1) * 1000)
            floors.append(fork_floor())
            tc, doc = bench.run("chain")
            g = gaps_ms(doc)
            chain_mean.append(statistics.fmean(g))
            chain_median.append(statistics.median(g))
            chain_total.append(tc)

        med = statistics.median
        print(f"machine: {os.cpu_count()} CPUs; {REPEATS} repeats, medians shown; workers=2")
        print(f"(a) flowctl run fanout --json ({FANOUT + 2} tasks): {med(t_fan):.3f} s   "
              f"[runs: {', '.join(f'{x:.3f}' for x in t_fan)}]")
        print(f"(b) flowctl run three --json (3 tasks):    {med(t_three):.3f} s   "
              f"[runs: {', '.join(f'{x:.3f}' for x in t_three)}]")
        print(f"    per-task overhead (T_fanout - T_3task) / {FANOUT - 1}: {med(overheads):.2f} ms   "
              f"(target <= 2 ms)   "
              f"[runs: {', '.join(f'{x:.2f}' for x in overheads)}]")
        floor_ms = med(floors) / (FANOUT + 2) * 1000
        print(f"(c) floor: fork+reap {FANOUT + 2} bare processes, <= 2 alive: {med(floors) * 1000:.1f} ms total, "
              f"{floor_ms:.3f} ms per process   | flowctl per task: {med(overheads):.2f} ms "
              f"= {med(overheads) / floor_ms:.0f}x the floor")
        print(f"    a no-op try's life in the fan-out, fork to reap: median {med(lives):.2f} ms   "
              f"[runs: {', '.join(f'{x:.2f}' for x in lives)}]")
        print(f"(d) chain of {CHAIN} no-op tasks, gap from a task's end to the next one's start: "
              f"mean {med(chain_mean):.2f} ms, median {med(chain_median):.2f} ms "
              f"(whole run {med(chain_total):.3f} s)   "
              f"[means: {', '.join(f'{x:.2f}' for x in chain_mean)}; medians: {', '.join(f'{x:.2f}' for x in chain_median)}]")
    finally:
        bench.close()


if __name__ == "__main__":
    main()
