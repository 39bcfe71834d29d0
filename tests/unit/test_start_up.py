"""What a short command's start and end cost: croniter imported without
running a program, the CLI leaving without tearing the interpreter down (its
output and exit handlers intact), a DAG file's fork server started ahead of
the run, Jinja imported by the tries that render."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)


def _python(code: str, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=50, **kw)


def test_croniter_is_imported_without_running_a_program():
    """croniter's import asks platform.architecture(), which runs `file`; ours
    answers it, and leaves platform as it was."""
    proc = _python("""
        import platform, subprocess, sys
        ran = []
        real = subprocess.Popen.__init__
        def record(self, args, *a, **k):
            ran.append(args)
            return real(self, args, *a, **k)
        subprocess.Popen.__init__ = record
        before = platform.architecture
        import flowctl.timetables as tt
        assert "croniter" not in sys.modules  # nothing cron yet
        cron = tt.croniter_module()
        assert cron.croniter("0 0 * * *").get_next() > 0
        import pendulum
        assert tt.make_timetable("@daily", pendulum.datetime(2026, 1, 1), None) is not None
        print(ran, platform.architecture is before)
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["[]", "True"]


def test_the_command_leaves_with_its_output_flushed_and_exit_handlers_run(tmp_path):
    """`flowctl` (the console command: main() without argv) ends with os._exit
    once its output is out: a large JSON document arrives whole, an exit
    handler registered by the command's code still runs, and the exit code is
    the command's."""
    mark = tmp_path / "handler-ran"
    proc = _python(f"""
        import atexit, sys
        atexit.register(lambda: open({str(mark)!r}, "w").write("yes"))
        sys.argv = ["flowctl", "--home", {str(tmp_path / "home")!r}, "--dags-folder", {str(tmp_path)!r},
                    "dags", "list", "--json"]
        from flowctl.cli import main
        main()
        print("not reached: main() ends the process")
    """)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) is not None and "not reached" not in proc.stdout
    assert mark.read_text() == "yes"
    bad = _python(f"""
        import sys
        sys.argv = ["flowctl", "--home", {str(tmp_path / "home")!r}, "--dags-folder", {str(tmp_path)!r},
                    "run", "nosuch"]
        from flowctl.cli import main
        main()
    """)
    assert bad.returncode != 0 and "nosuch" in bad.stderr and "Traceback" not in bad.stderr


def test_with_a_thread_still_alive_the_command_exits_normally(tmp_path):
    """A thread the command left running is waited for (the normal exit), not cut off."""
    mark = tmp_path / "thread-done"
    proc = _python(f"""
        import sys, threading, time
        def late():
            time.sleep(0.3)
            open({str(mark)!r}, "w").write("done")
        threading.Thread(target=late).start()
        sys.argv = ["flowctl", "--home", {str(tmp_path / "home")!r}, "--dags-folder", {str(tmp_path)!r},
                    "dags", "list", "--json"]
        from flowctl.cli import main
        main()
    """)
    assert proc.returncode == 0, proc.stderr
    assert mark.read_text() == "done"


def _payload(dag: Path, task_id: str, tmp_path: Path) -> dict:
    stamp = "2026-01-01T00:00:00+00:00"
    run = {"run_id": "r", "run_type": "manual", "logical_date": stamp, "data_interval_start": stamp,
           "data_interval_end": stamp, "conf": {}, "start_date": stamp}
    return {"dag_id": dag.stem, "run_id": "r", "task_id": task_id, "map_index": -1, "try_number": 1,
            "fileloc": str(dag), "home": None, "timezone": "UTC", "log_path": str(tmp_path / f"{task_id}.log"),
            "run": run, "prev_success": None, "first_poke_at": None}


def _run_one(executor, key, job) -> dict:
    from flowctl.executors.base import Finished

    executor.submit(job)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for event in executor.poll(1.0):
            if isinstance(event, Finished) and event.key == key:
                return event.result
    raise AssertionError("the try did not finish")


def test_jinja_is_imported_by_a_try_that_renders_and_shared_from_the_second_try_on(tmp_path: Path):
    """The fork server makes the Jinja environment before its second try, not
    before its first (a run of one no-op task never waits for it); a first try
    with a template imports it itself and renders as any other. In a process of
    its own: the fork server inherits what its parent imported."""
    dag = tmp_path / "jj.py"
    dag.write_text(
        "import sys\nfrom flowctl import DAG, PythonOperator\n"
        "def loaded(text):\n    return [text, 'jinja2' in sys.modules]\n"
        "with DAG('jj', schedule=None):\n"
        "    PythonOperator(task_id='plain', python_callable=loaded, op_args=['no template'])\n"
        "    PythonOperator(task_id='templated', python_callable=loaded, op_args=['{{ ds }}'])\n")
    proc = _python(f"""
        import json, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_start_up import _payload, _run_one
        from pathlib import Path
        from flowctl.executors.base import Job
        from flowctl.executors.local import LocalExecutor
        from flowctl.records import TryKey
        assert "jinja2" not in sys.modules
        dag, tmp = Path({str(dag)!r}), Path({str(tmp_path)!r})
        out = []
        for version, tasks in (("v1", ["plain", "plain", "templated"]), ("v2", ["templated"])):
            executor = LocalExecutor()  # v2: a fresh server whose first try renders
            try:
                for n, task_id in enumerate(tasks, start=1):
                    key = TryKey("jj", "r", task_id, -1, n)
                    payload = {{**_payload(dag, task_id, tmp), "try_number": n}}
                    out.append(_run_one(executor, key, Job(key, str(dag), version, payload))["xcom"]["return_value"])
            finally:
                executor.shutdown()
        print(json.dumps(out))
    """)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [["no template", False], ["no template", True], ["2026-01-01", True],
                                       ["2026-01-01", True]]


def test_prepare_starts_the_fork_server_that_the_first_try_then_uses(tmp_path: Path):
    """`prepare` starts the DAG file's fork server at once (the run command
    calls it before making the run); the try submitted later runs in it, not
    in a second one."""
    from flowctl.executors.base import Job
    from flowctl.executors.local import LocalExecutor
    from flowctl.records import TryKey

    dag = tmp_path / "one.py"
    dag.write_text("from flowctl import DAG, PythonOperator\n"
                   "with DAG('one', schedule=None):\n    PythonOperator(task_id='a', python_callable=lambda: 7)\n")
    executor = LocalExecutor()
    try:
        executor.prepare(str(dag), "v1")
        servers = list(executor._servers.values())
        assert len(servers) == 1 and servers[0].alive
        key = TryKey("one", "r", "a", -1, 1)
        result = _run_one(executor, key, Job(key, str(dag), "v1", _payload(dag, "a", tmp_path)))
        assert list(executor._servers.values()) == servers  # the same server, no second one
        assert result["state"] == "success" and result["xcom"] == {"return_value": 7}
    finally:
        executor.shutdown()
