"""How the cost per task grows with the size of a run.

`flowctl run --json` of 20 parallel chains of no-op Python tasks on 2 worker
slots: 200 tasks (chains of 10), 2,000 (chains of 100) and 10,000 (chains of
500). Prints the wall time and the cost per task of each, and the ratio of the
2,000-task run's cost per task to the 200-task run's.

Targets: that ratio <= 1.3 (cost linear in the run's size); the 10,000-task
run in <= 60 s.

Run: .venv/bin/python bench/bench_scale.py [--sizes 200,2000,10000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

CHAINS = 20

DAG = textwrap.dedent("""
    import pendulum
    from flowctl import DAG, PythonOperator

    def noop():
        pass

    with DAG("chains{n}", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
             max_active_tasks=64) as dag:
        for c in range({chains}):
            prev = None
            for i in range({length}):
                t = PythonOperator(task_id=f"c{{c:02d}}_{{i:04d}}", python_callable=noop)
                if prev is not None:
                    prev >> t
                prev = t
""")


def run_once(root: Path, n: int) -> float:
    env = {**os.environ, "FLOWCTL_HOME": str(root / f"home{n}"), "FLOWCTL_DAGS_FOLDER": str(root / "dags"),
           "FLOWCTL_WORKERS": "2", "FLOWCTL_NOTIFY_DESKTOP": "false"}
    subprocess.run([sys.executable, "-m", "flowctl", "dags", "list", "--json"], env=env, capture_output=True,
                   check=True)  # fill the DAG cache: the import of a 10,000-task file is not the engine's cost
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "flowctl", "run", f"chains{n}", "--json"], env=env,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    doc = json.loads(proc.stdout)
    assert doc["state"] == "success" and len(doc["tasks"]) == n, proc.stderr[-2000:]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="200,2000,10000")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    root = Path(tempfile.mkdtemp(prefix="flowctl-bench-scale-"))
    try:
        (root / "dags").mkdir()
        for n in sizes:
            (root / "dags" / f"chains{n}.py").write_text(DAG.format(n=n, chains=CHAINS, length=n // CHAINS))
        print(f"machine: {os.cpu_count()} CPUs; workers=2; {CHAINS} parallel chains of no-op PythonOperator tasks")
        per: dict[int, float] = {}
        for n in sizes:
            elapsed = run_once(root, n)
            per[n] = elapsed / n
            print(f"{n:>6,} tasks: {elapsed:7.2f} s, {per[n] * 1000:.2f} ms per task"
                  + ("   (target <= 60 s)" if n == 10_000 else ""))
        if 200 in per and 2000 in per:
            ratio = per[2000] / per[200]
            print(f"cost per task, 2,000 vs 200 tasks: {ratio:.2f}x   (target <= 1.3x)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
