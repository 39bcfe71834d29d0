"""Shell completion of DAG ids, run ids and task ids: right, and fast enough
for a Tab press (it reads the loader's cache and the run files' names, and
imports no DAG file)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)

DAG = """
import pathlib
import pendulum
from flowctl import DAG, BashOperator
pathlib.Path({marker!r}).write_text("imported")
with DAG("{dag_id}", schedule="@daily", start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False) as dag:
    BashOperator(task_id="extract", bash_command="echo e") >> BashOperator(task_id="load", bash_command="echo l")
"""


@pytest.fixture
def seeded(flow):
    """Two DAGs (each leaving a marker file when imported) and two runs of one."""
    marker = flow.root / "imported"
    for dag_id in ("etl_daily", "etl_hourly"):
        flow.write_dag(f"{dag_id}.py", DAG.format(marker=str(marker), dag_id=dag_id))
    assert flow("run", "etl_daily", "--logical-date", "2026-11-20").code == 0
    assert flow("run", "etl_daily", "--logical-date", "2026-11-21").code == 0
    marker.unlink()
    return flow


def complete(flow, line: str) -> tuple[list[str], float, float]:
    """Ask for completions as bash does after typing `line` (Tab at its end):
    the candidates, the wall time and the CPU time the answer took."""
    words = line.split(" ")
    env = {**flow.env, "_FLOWCTL_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "flowctl"], env=env, cwd=flow.root, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    out, err = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, err
    return out.split(), elapsed, usage.ru_utime + usage.ru_stime


def test_completion_offers_dag_run_and_task_ids(seeded):
    """DAG ids after a command that takes one, run ids after the DAG id, task
    ids after the run, each filtered by what was typed."""
    assert complete(seeded, "flowctl run ")[0] == ["etl_daily", "etl_hourly"]
    assert complete(seeded, "flowctl run etl_h")[0] == ["etl_hourly"]
    assert complete(seeded, "flowctl tasks states etl_daily ")[0] == [
        "manual__2026-11-21T00:00:00+00:00", "manual__2026-11-20T00:00:00+00:00"]
    assert complete(seeded, "flowctl logs etl_daily manual__2026-11-20T00:00:00+00:00 ")[0] == ["extract", "load"]
    assert complete(seeded, "flowctl logs etl_daily x lo")[0] == ["load"]
    assert complete(seeded, "flowctl runs list --dag etl_d")[0] == ["etl_daily"]
    assert complete(seeded, "flowctl clear etl_daily --task ex")[0] == ["extract"]
    assert complete(seeded, "flowctl tasks states etl_hourly ")[0] == []  # no runs yet


def test_completion_is_fast_and_imports_no_dag_file(seeded):
    """Well under a quarter of a second per Tab (best of five, so that another
    process on a busy machine does not decide it; the CPU time too, which
    others cannot inflate), and no DAG file is imported."""
    answers = [complete(seeded, "flowctl tasks states etl_daily ") for _ in range(5)]
    assert all(ids for ids, _, _ in answers)
    assert min(wall for _, wall, _ in answers) < 0.25, answers
    assert min(cpu for _, _, cpu in answers) < 0.2, answers
    assert not (seeded.root / "imported").exists()


def test_completion_without_a_home_offers_nothing_quietly(flow):
    """Before anything ran there is no cache and no run: no candidates, no error."""
    ids, _, _ = complete(flow, "flowctl run ")
    assert ids == []


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_install_completion_makes_bash_complete_ids(seeded, tmp_path):
    """`flowctl --install-completion` (run from bash) writes bash's completion
    script; sourcing it, Tab after `flowctl run ` offers the DAG ids."""
    home = tmp_path / "user"
    home.mkdir()
    bindir = Path(sys.executable).parent
    env = {**seeded.env, "HOME": str(home), "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
           "SHELL": shutil.which("bash")}
    # `; exit $?` keeps bash from exec-ing flowctl in its place: the shell is read from the parent process
    install = subprocess.run(["bash", "-c", "flowctl --install-completion; exit $?"], env=env, cwd=seeded.root,
                             capture_output=True, text=True, timeout=60)
    assert install.returncode == 0, install.stderr
    assert "bash completion installed" in install.stdout
    script = home / ".bash_completions" / "flowctl.sh"
    assert script.exists() and str(script) in (home / ".bashrc").read_text()
    tab = ("source ~/.bash_completions/flowctl.sh; COMP_WORDS=(flowctl run ''); COMP_CWORD=2; "
           "_flowctl_completion flowctl; printf '%s\\n' \"${COMPREPLY[@]}\"")
    res = subprocess.run(["bash", "-c", tab], env=env, cwd=seeded.root, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["etl_daily", "etl_hourly"]
