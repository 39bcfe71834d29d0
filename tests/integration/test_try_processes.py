"""A try's processes, with the real `flowctl run`: nothing a try started
outlives it into its next try, and hundreds of tries started at once do not
stall the channel between the engine and its fork server."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)

LEFTOVER = """
import pendulum, subprocess, time
from datetime import timedelta
from flowctl import DAG, task

with DAG("leftover", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    @task(retries=1, retry_delay=timedelta(seconds=0))
    def forker(ti=None):
        child = subprocess.Popen(["bash", "-c", "for i in $(seq 100); do echo try{n} $i >> {out}; sleep 0.05; done"
                                  .format(n=ti.try_number, out={out!r})])
        with open({pids!r}, "a") as f:
            f.write(f"{child.pid}\\n")
        time.sleep(0.3)  # the writer has written a few lines
        if ti.try_number == 1:
            raise RuntimeError("fail first")
        return "ok"
    forker()
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_what_a_try_started_ends_with_it_and_never_overlaps_the_next_try(flow, tmp_path):
    """Try 1 starts a background writer and fails; try 2 (no retry delay) does the
    same and succeeds. Try 1's writer is gone before try 2 starts, so their lines
    never interleave, and try 2's writer is gone when the run ends."""
    out, pids = tmp_path / "lines.txt", tmp_path / "pids.txt"
    flow.write_dag("leftover.py", LEFTOVER.replace("{out!r}", repr(str(out))).replace("{pids!r}", repr(str(pids))))
    assert flow("run", "leftover").code == 0
    time.sleep(0.5)  # a writer that survived would still be writing
    lines = out.read_text().split()[::2]  # "try1", "try1", ..., "try2", ...
    assert lines and lines[0] == "try1"
    assert "try1" not in lines[lines.index("try2"):], lines
    children = [int(p) for p in pids.read_text().split()]
    assert len(children) == 2 and not any(alive(p) for p in children)
    assert len(out.read_text().split()) == len(lines) * 2  # nothing written since


FAN = """
import pendulum
from flowctl import DAG, PythonOperator

def noop():
    pass

with DAG("wide", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), max_active_tasks=1000):
    for i in range(400):
        PythonOperator(task_id=f"t{i:03d}", python_callable=noop)
"""


def test_four_hundred_tries_started_at_once_all_finish(flow):
    """With 400 slots every try is handed to the fork server in one go; its
    replies must not wait on the engine, which is busy handing over more (the
    two used to block each other with the socket full, and nothing ran)."""
    flow.write_dag("wide.py", FAN)
    done = flow("run", "wide", "--json", env={"FLOWCTL_WORKERS": "400"}, timeout=90)
    assert done.code == 0, done.err
    states = {t["state"] for t in done.json()["tasks"]}
    assert states == {"success"} and len(done.json()["tasks"]) == 400
