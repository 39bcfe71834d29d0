"""Loading a folder of 200 DAG files: cold (every file imported in a child
process) and warm (unchanged files come from the content cache).

    .venv/bin/python bench/bench_load.py
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

DAG = textwrap.dedent("""
    import pendulum
    from flowctl import DAG, BashOperator, PythonOperator

    def work():
        return 1

    with DAG("dag_{n:03d}", schedule="@hourly", start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
        a = BashOperator(task_id="extract", bash_command="echo {{{{ ds }}}}")
        b = PythonOperator(task_id="transform", python_callable=work)
        c = BashOperator(task_id="load", bash_command="true")
        a >> b >> c
""")


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="flowctl-bench-"))
    try:
        dags = root / "dags"
        dags.mkdir()
        for n in range(200):
            (dags / f"dag_{n:03d}.py").write_text(DAG.format(n=n))
        env = {**os.environ, "FLOWCTL_HOME": str(root / "home"), "FLOWCTL_DAGS_FOLDER": str(dags)}
        cmd = [sys.executable, "-m", "flowctl", "dags", "list", "--json"]
        cold = []
        for _ in range(3):
            shutil.rmtree(root / "home", ignore_errors=True)
            cold.append(timed(cmd, env))
        warm = [timed(cmd, env) for _ in range(5)]
        print(f"machine: {os.cpu_count()} CPUs")
        print(f"flowctl dags list, 200 DAG files, cold (each imported in a child): {statistics.median(cold):.2f} s  "
              f"[{', '.join(f'{x:.2f}' for x in cold)}]")
        print(f"flowctl dags list, 200 DAG files, warm (content cache):          {statistics.median(warm):.2f} s  "
              f"[{', '.join(f'{x:.2f}' for x in warm)}]")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
