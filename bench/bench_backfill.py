"""Backfill of 365 daily intervals x 5 no-op tasks, with the real `flowctl backfill`.

Prints the wall time and the time per task instance. Target: <= 5 s on 2 cores.

    .venv/bin/python bench/bench_backfill.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

DAG = textwrap.dedent("""
    import pendulum
    from flowctl import DAG, PythonOperator, chain

    def noop():
        pass

    with DAG("year", schedule="@daily", start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
             max_active_runs=16) as dag:
        a, b, c, d, e = (PythonOperator(task_id=f"t{i}", python_callable=noop) for i in range(5))
        chain(a, [b, c, d], e)
""")


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="flowctl-bench-"))
    try:
        (root / "dags").mkdir()
        (root / "dags" / "year.py").write_text(DAG)
        env = {**os.environ, "FLOWCTL_HOME": str(root / "home"), "FLOWCTL_DAGS_FOLDER": str(root / "dags"),
               "FLOWCTL_WORKERS": "2", "FLOWCTL_NOTIFY_DESKTOP": "false"}
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "flowctl", "backfill", "year", "--start", "2025-01-01",
                               "--end", "2025-12-31", "--json"], env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - t0
        doc = json.loads(proc.stdout)
        runs = doc["runs"]
        ok = sum(1 for r in runs if r["state"] == "success")
        print(f"machine: {os.cpu_count()} CPUs; workers=2")
        print(f"backfill 365 daily runs x 5 tasks: {elapsed:.2f} s, {ok}/{len(runs)} runs succeeded, "
              f"{elapsed / (len(runs) * 5) * 1000:.2f} ms per task instance   (target <= 5 s)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
