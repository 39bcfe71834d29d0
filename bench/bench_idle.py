"""What an idle scheduler costs: its memory and its CPU time while nothing is due.

Starts `flowctl scheduler` (foreground, in a temporary home) on a DAG folder of
20 DAGs scheduled hourly with no interval due yet (start dates in the future),
waits for it to settle, then reads its RSS (and that of its fork server, if
any) and the CPU time it uses over `--seconds` of idling (default 60).

Targets: RSS <= 60 MB; no busy polling (CPU time a small fraction of a
percent of the idle time).

Run: .venv/bin/python bench/bench_idle.py [--seconds 60]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

DAG = textwrap.dedent("""
    import pendulum
    from flowctl import DAG, BashOperator

    with DAG("idle{i}", schedule="@hourly", start_date=pendulum.datetime(2030, 1, 1, tz="UTC")) as dag:
        BashOperator(task_id="a", bash_command="true") >> BashOperator(task_id="b", bash_command="true")
""")


def tree(pid: int) -> list[int]:
    """The process and its descendants."""
    out = [pid]
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        out.extend(tree(int(child)))
    return out


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    seconds = parser.parse_args().seconds
    root = Path(tempfile.mkdtemp(prefix="flowctl-bench-idle-"))
    proc = None
    try:
        (root / "dags").mkdir()
        for i in range(20):
            (root / "dags" / f"idle{i}.py").write_text(DAG.format(i=i))
        env = {**os.environ, "FLOWCTL_HOME": str(root / "home"), "FLOWCTL_DAGS_FOLDER": str(root / "dags"),
               "FLOWCTL_WORKERS": "2", "FLOWCTL_NOTIFY_DESKTOP": "false"}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        proc = subprocess.Popen([sys.executable, "-m", "flowctl", "scheduler"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(5)  # parsed the folder, made its fork server, settled
        pids = tree(proc.pid)
        before = {p: cpu_seconds(p) for p in pids}
        t0 = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - t0
        pids_now = tree(proc.pid)
        used = sum(cpu_seconds(p) - before.get(p, 0.0) for p in pids_now)
        rss = {p: rss_kb(p) for p in pids_now}
        print(f"machine: {os.cpu_count()} CPUs; a scheduler with 20 DAGs, nothing due; {elapsed:.0f} s of idling")
        print(f"scheduler RSS: {rss[proc.pid] / 1024:.1f} MB   (target <= 60 MB)")
        for p in pids_now[1:]:
            name = Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:60]
            print(f"  child {p} ({name}): RSS {rss[p] / 1024:.1f} MB")
        print(f"CPU time over {elapsed:.0f} s idle, scheduler and children: {used:.2f} s "
              f"({used / elapsed * 100:.2f}% of one core)")
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
