"""What dynamic task mapping costs, and how it grows.

`flowctl run --json` of `get >> each.expand(x=get()) >> total` on 2 worker
slots, with 100 and 1,000 elements (a no-op @task per element), against a DAG
of the same number of plain no-op tasks fanning out from one task. Prints the
wall time and cost per instance of each, and the ratio of the 1,000-instance
cost per instance to the 100-instance one (flat means mapping grows linearly).

Run: .venv/bin/python bench/bench_mapped.py [--sizes 100,1000]
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

MAPPED = textwrap.dedent("""
    import pendulum
    from flowctl import DAG, task

    with DAG("mapped{n}", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
        @task
        def get():
            return list(range({n}))

        @task
        def each(x):
            return None

        @task
        def total(values):
            return len(values)

        total(each.expand(x=get()))
""")

PLAIN = textwrap.dedent("""
    import pendulum
    from flowctl import DAG, EmptyOperator, task

    with DAG("plain{n}", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
        @task
        def get():
            return None

        @task
        def each(x):
            return None

        start = get()
        for i in range({n}):
            start >> each.override(task_id=f"each_{{i}}")(i)
""")


def run_once(root: Path, dag_id: str, expect: int) -> float:
    env = {**os.environ, "FLOWCTL_HOME": str(root / f"home-{dag_id}"), "FLOWCTL_DAGS_FOLDER": str(root / "dags"),
           "FLOWCTL_WORKERS": "2", "FLOWCTL_NOTIFY_DESKTOP": "false", "FLOWCTL_MAX_MAP_LENGTH": "100000"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "flowctl", "dags", "list", "--json"], env=env, capture_output=True,
                   check=True)  # the DAG cache filled: the file's import is not what is measured
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "flowctl", "run", dag_id, "--json"], env=env,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    doc = json.loads(proc.stdout)
    assert doc["state"] == "success" and len(doc["tasks"]) == expect, proc.stderr[-2000:]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    root = Path(tempfile.mkdtemp(prefix="flowctl-bench-mapped-"))
    try:
        (root / "dags").mkdir()
        for n in sizes:
            (root / "dags" / f"mapped{n}.py").write_text(MAPPED.format(n=n))
            (root / "dags" / f"plain{n}.py").write_text(PLAIN.format(n=n))
        print(f"machine: {os.cpu_count()} CPUs; workers=2; no-op @task instances; median of 3")
        per: dict[int, float] = {}
        for n in sizes:
            mapped = sorted(run_once(root, f"mapped{n}", n + 2) for _ in range(3))[1]
            plain = sorted(run_once(root, f"plain{n}", n + 1) for _ in range(3))[1]
            per[n] = mapped / n
            print(f"{n:>6,} mapped instances: {mapped:6.2f} s, {mapped / n * 1000:.2f} ms per instance;"
                  f"  {n:,} plain tasks: {plain:6.2f} s, {plain / n * 1000:.2f} ms per task")
        if len(sizes) >= 2:
            small, big = sizes[0], sizes[-1]
            print(f"cost per instance, {big:,} vs {small:,}: {per[big] / per[small]:.2f}x")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
