"""Failure handling end to end: retries, execution_timeout, crashing task processes,
branching and short-circuit, every trigger rule, reschedule sensors, callbacks and
notifications (webhook and command), with the real `flowctl` command."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(120)

HEADER = '''
import os
import time
from datetime import timedelta

import pendulum
from flowctl import (DAG, BashOperator, BranchPythonOperator, EmptyOperator, PythonOperator,
                     PythonSensor, ShortCircuitOperator)

START = pendulum.datetime(2026, 1, 1, tz="UTC")
'''


def write(flow, dag_id: str, body: str, **values: Any) -> None:
    """Write DAG file `<dag_id>.py`: HEADER plus `body`, with `values` bound as module constants."""
    consts = "".join(f"{k} = {v!r}\n" for k, v in values.items())
    flow.write_dag(f"{dag_id}.py", HEADER + consts + body)


def run(flow, dag_id: str, *, timeout: float = 60, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    """`flowctl run DAG --json`: (exit code, the run document with its tasks by id)."""
    try:
        res = flow("run", dag_id, "--logical-date", "2026-03-01", "--json", timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"flowctl run {dag_id} did not end within {timeout:g} s")
    assert res.out, res.err
    doc = res.json()
    doc["tis"] = {t["task_id"]: t for t in doc["tasks"]}
    return res.code, doc


def log(flow, dag_id: str, run_id: str, task_id: str, try_number: int | None = None) -> str:
    args = ["logs", dag_id, run_id, task_id] + (["--try", str(try_number)] if try_number else [])
    res = flow(*args)
    assert res.code == 0, res.err
    return res.out


def run_file_tis(flow, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
    """The task instances as committed (with their tries history), read through the store."""
    from flowctl.store import Store

    data = Store(flow.home).read_run(dag_id, run_id)
    assert data is not None
    return data.task_instances


def state_map(doc: dict[str, Any]) -> dict[str, str]:
    return {tid: ti["state"] for tid, ti in doc["tis"].items()}


# -- retries ------------------------------------------------------------------------------------

FLAKY = '''
def sometimes(ti):
    print(f"attempt {ti.try_number} of flaky")
    if ti.try_number < 3:
        raise RuntimeError(f"flaky failure on try {ti.try_number}")
    print("third time lucky")

with DAG("flaky", schedule=None, start_date=START) as dag:
    PythonOperator(task_id="flaky", python_callable=sometimes, retries=3, retry_delay=timedelta(seconds=0.3))
'''

DOOMED = '''
with DAG("doomed", schedule=None, start_date=START) as dag:
    BashOperator(task_id="doomed", bash_command="echo doomed try {{ ti.try_number }}; exit 3",
                 retries=2, retry_delay=timedelta(seconds=0.3))
'''


def test_a_flaky_task_succeeds_on_try_3_and_every_tries_log_is_kept(flow):
    """retries=3: a task failing on tries 1 and 2 succeeds on try 3; `logs --try N` shows
    each try's own output, including the failures."""
    write(flow, "flaky", FLAKY)
    code, doc = run(flow, "flaky")
    assert code == 0, doc
    ti = doc["tis"]["flaky"]
    assert (ti["state"], ti["try_number"]) == ("success", 3)
    for n in (1, 2):
        text = log(flow, "flaky", doc["run_id"], "flaky", n)
        assert f"attempt {n} of flaky" in text and f"flaky failure on try {n}" in text, text
        assert "third time lucky" not in text
    third = log(flow, "flaky", doc["run_id"], "flaky", 3)
    assert "attempt 3 of flaky" in third and "third time lucky" in third
    assert "flaky failure" not in third
    assert log(flow, "flaky", doc["run_id"], "flaky") == third


def test_exhausted_retries_leave_failed_after_retries_plus_one_tries_with_the_delay_kept(flow):
    """retries=2, retry_delay=0.3 s, always failing: the task ends failed with try_number 3,
    and every retry started at least 0.3 s after the previous try ended."""
    write(flow, "doomed", DOOMED)
    code, doc = run(flow, "doomed")
    assert code == 1
    assert doc["state"] == "failed"
    ti = doc["tis"]["doomed"]
    assert (ti["state"], ti["try_number"]) == ("failed", 3)
    history = run_file_tis(flow, "doomed", doc["run_id"])["doomed"]["tries"]
    assert [(t["try_number"], t["state"]) for t in history] == [(1, "up_for_retry"), (2, "up_for_retry"), (3, "failed")]
    for before, after in zip(history, history[1:], strict=False):
        gap = (datetime.fromisoformat(after["start_date"]) - datetime.fromisoformat(before["end_date"])).total_seconds()
        assert gap >= 0.3, (before, after)
    for n in (1, 2, 3):
        assert f"doomed try {n}" in log(flow, "doomed", doc["run_id"], "doomed", n)


# -- timeouts and crashes -----------------------------------------------------------------------

SLOW = '''
with DAG("slow", schedule=None, start_date=START) as dag:
    BashOperator(task_id="slow", bash_command=f"echo started; sleep {MARK} & sleep {MARK}",
                 execution_timeout=timedelta(seconds=2))
'''


def pids_of(marker: str) -> list[int]:
    res = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    return [int(p) for p in res.stdout.split()]


@pytest.fixture
def marker() -> Iterator[str]:
    """A sleep length no other process uses, so `pgrep -f "sleep <it>"` finds only ours;
    whatever still matches at the end is killed by pid."""
    mark = f"120.{random.randrange(10**6, 10**7)}"
    yield mark
    for pid in pids_of(f"sleep {mark}"):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_execution_timeout_fails_the_try_within_seconds_and_kills_its_background_child(flow, marker):
    """`sleep 120 & sleep 120` with execution_timeout 2 s fails within 10 s with a message that
    says it timed out, and no `sleep` of it survives (the whole process group is gone)."""
    write(flow, "slow", SLOW, MARK=marker)
    t0 = time.monotonic()
    code, doc = run(flow, "slow", timeout=40)
    took = time.monotonic() - t0
    assert code == 1
    assert doc["tis"]["slow"]["state"] == "failed"
    assert 2 <= took < 10, f"the 2 s timeout took {took:.1f} s to fail the task"
    text = log(flow, "slow", doc["run_id"], "slow")
    assert "started" in text and "timed out" in text, text
    reason = flow("explain", "slow", doc["run_id"], "slow", "--json").json()["tasks"][0]["reason"]
    assert "timed out" in reason, reason
    deadline = time.monotonic() + 3
    while pids_of(f"sleep {marker}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pids_of(f"sleep {marker}") == [], "a child of the timed-out task survived"


CRASH = '''
def segfault():
    import ctypes
    print("about to read address 0", flush=True)
    ctypes.string_at(0)

def hard_exit():
    print("about to call os._exit(17)", flush=True)
    os._exit(17)

def fine():
    time.sleep(0.3)
    return "still here"

with DAG("crash", schedule=None, start_date=START) as dag:
    PythonOperator(task_id="segv", python_callable=segfault)
    PythonOperator(task_id="exit17", python_callable=hard_exit)
    PythonOperator(task_id="sibling", python_callable=fine)
'''


def test_a_segfault_and_os_exit_fail_their_tries_while_a_sibling_succeeds(flow):
    """A task process killed by SIGSEGV and one calling os._exit(17) each fail, with the signal
    or the exit code in their log; their sibling succeeds and its XCom is kept."""
    write(flow, "crash", CRASH)
    code, doc = run(flow, "crash")
    assert code == 1
    assert state_map(doc) == {"segv": "failed", "exit17": "failed", "sibling": "success"}
    segv = log(flow, "crash", doc["run_id"], "segv")
    assert "about to read address 0" in segv and "SIGSEGV" in segv, segv
    exit17 = log(flow, "crash", doc["run_id"], "exit17")
    assert "about to call os._exit(17)" in exit17 and "exit code 17" in exit17, exit17
    xcom = flow("xcom", "list", "crash", doc["run_id"], "--json").json()
    assert {"task_id": "sibling", "map_index": -1, "key": "return_value", "value": "still here"} in xcom


# -- branching and trigger rules ----------------------------------------------------------------

BRANCHY = '''
with DAG("branchy", schedule=None, start_date=START) as dag:
    pick = BranchPythonOperator(task_id="pick", python_callable=lambda: "left")
    left, right = EmptyOperator(task_id="left"), EmptyOperator(task_id="right")
    left_next, right_next = EmptyOperator(task_id="left_next"), EmptyOperator(task_id="right_next")
    join = EmptyOperator(task_id="join", trigger_rule="none_failed_min_one_success")
    pick >> [left, right]
    left >> left_next
    right >> right_next
    [left_next, right_next] >> join

    gate = ShortCircuitOperator(task_id="gate", python_callable=lambda: False)
    a, b = EmptyOperator(task_id="a"), EmptyOperator(task_id="b")
    done = EmptyOperator(task_id="done_anyway", trigger_rule="all_done")
    gate >> a >> b >> done
    gate >> EmptyOperator(task_id="c")

    beside = EmptyOperator(task_id="beside")
    beside >> done

    open_gate = ShortCircuitOperator(task_id="open_gate", python_callable=lambda: "yes")
    open_gate >> EmptyOperator(task_id="through")
'''


def test_branch_and_short_circuit_skip_exactly_the_right_tasks(flow):
    """The branch follows `left` and skips `right` and what follows it only; the
    none_failed_min_one_success join runs. A falsy short-circuit skips every descendant
    (even an all_done one with another upstream); a truthy one skips nothing."""
    write(flow, "branchy", BRANCHY)
    code, doc = run(flow, "branchy")
    assert code == 0, doc
    assert doc["state"] == "success"
    assert state_map(doc) == {
        "pick": "success", "left": "success", "right": "skipped", "left_next": "success",
        "right_next": "skipped", "join": "success",
        "gate": "success", "a": "skipped", "b": "skipped", "c": "skipped", "done_anyway": "skipped",
        "beside": "success", "open_gate": "success", "through": "success",
    }


RULES = ["all_success", "all_failed", "all_done", "all_done_min_one_success", "all_skipped", "one_success",
         "one_failed", "one_done", "none_failed", "none_failed_min_one_success", "none_skipped", "always"]

# Upstream mixes -> the state each rule's task ends in (Airflow's trigger_rule_dep semantics).
EXPECTED = {
    "ok_bad_skip": {
        "all_success": "upstream_failed", "all_failed": "skipped", "all_done": "success",
        "all_done_min_one_success": "skipped", "all_skipped": "skipped", "one_success": "success",
        "one_failed": "success", "one_done": "success", "none_failed": "upstream_failed",
        "none_failed_min_one_success": "upstream_failed", "none_skipped": "skipped", "always": "success",
    },
    "ok_skip": {
        "all_success": "skipped", "all_failed": "skipped", "all_done": "success",
        "all_done_min_one_success": "skipped", "all_skipped": "skipped", "one_success": "success",
        "one_failed": "skipped", "one_done": "success", "none_failed": "success",
        "none_failed_min_one_success": "success", "none_skipped": "skipped", "always": "success",
    },
    "ok_bad": {
        "all_success": "upstream_failed", "all_failed": "skipped", "all_done": "success",
        "all_done_min_one_success": "success", "all_skipped": "skipped", "one_success": "success",
        "one_failed": "success", "one_done": "success", "none_failed": "upstream_failed",
        "none_failed_min_one_success": "upstream_failed", "none_skipped": "success", "always": "success",
    },
    "bad": {
        "all_success": "upstream_failed", "all_failed": "success", "all_done": "success",
        "all_done_min_one_success": "upstream_failed", "all_skipped": "skipped", "one_success": "upstream_failed",
        "one_failed": "success", "one_done": "success", "none_failed": "upstream_failed",
        "none_failed_min_one_success": "upstream_failed", "none_skipped": "success", "always": "success",
    },
    "skip": {
        "all_success": "skipped", "all_failed": "skipped", "all_done": "success",
        "all_done_min_one_success": "skipped", "all_skipped": "success", "one_success": "skipped",
        "one_failed": "skipped", "one_done": "skipped", "none_failed": "success",
        "none_failed_min_one_success": "skipped", "none_skipped": "skipped", "always": "success",
    },
}

RULE_DAG = '''
with DAG("rules", schedule=None, start_date=START) as dag:
    # the branch decides after `bad` has failed, so every mix is judged with all its
    # upstream tasks done (else a skip seen before the failure decides some mixes early)
    branch = BranchPythonOperator(task_id="branch", python_callable=lambda: "ok", trigger_rule="all_done")
    up = {"ok": EmptyOperator(task_id="ok"), "skip": EmptyOperator(task_id="skip"),
          "bad": BashOperator(task_id="bad", bash_command="exit 1")}
    up["bad"] >> branch >> [up["ok"], up["skip"]]
    for mix in MIXES:
        for rule in RULES:
            t = EmptyOperator(task_id=f"{mix}__{rule}", trigger_rule=rule)
            [up[name] for name in mix.split("_") if name] >> t
'''


def test_every_trigger_rule_ends_in_airflows_state_for_each_upstream_mix(flow):
    """One task per rule after each mix of a succeeded, a failed and a branch-skipped upstream
    ends in the state Airflow gives it; the run fails (it holds failed tasks)."""
    write(flow, "rules", RULE_DAG, MIXES=list(EXPECTED), RULES=RULES)
    code, doc = run(flow, "rules")
    assert code == 1
    assert doc["state"] == "failed"
    got = state_map(doc)
    assert (got["branch"], got["ok"], got["skip"], got["bad"]) == ("success", "success", "skipped", "failed")
    wrong = {f"{mix}__{rule}": (got[f"{mix}__{rule}"], want)
             for mix, table in EXPECTED.items() for rule, want in table.items() if got[f"{mix}__{rule}"] != want}
    assert wrong == {}, "task: (got, Airflow's)"
    assert set(EXPECTED["bad"]) == set(RULES)


# -- sensors ------------------------------------------------------------------------------------

SENSOR = '''
def arrived():
    print("poking for", FLAG)
    return os.path.exists(FLAG)

with DAG("sensing", schedule=None, start_date=START) as dag:
    PythonSensor(task_id="wait", python_callable=arrived, mode=MODE, poke_interval=0.3, timeout=TIMEOUT,
                 priority_weight=10)
    BashOperator(task_id="make", bash_command=f"sleep 0.3; touch {FLAG}")
'''


def test_a_reschedule_sensor_frees_the_only_slot_for_the_task_it_waits_for(flow):
    """FLOWCTL_WORKERS=1: a reschedule-mode sensor started first waits for a file a sibling
    makes; between pokes it frees the slot, the sibling runs, the sensor sees the file and the
    run succeeds, with the sensor still on try 1."""
    flag = flow.root / "flag"
    write(flow, "sensing", SENSOR, FLAG=str(flag), MODE="reschedule", TIMEOUT=30)
    t0 = time.monotonic()
    code, doc = run(flow, "sensing", env={"FLOWCTL_WORKERS": "1"}, timeout=40)
    assert code == 0, doc
    assert time.monotonic() - t0 < 20
    assert state_map(doc) == {"wait": "success", "make": "success"}
    assert doc["tis"]["wait"]["try_number"] == 1
    assert datetime.fromisoformat(doc["tis"]["make"]["end_date"]) <= datetime.fromisoformat(doc["tis"]["wait"]["end_date"])
    text = log(flow, "sensing", doc["run_id"], "wait")
    assert "rescheduled" in text and "condition met" in text, text


def test_a_poke_sensor_holding_the_only_slot_blocks_its_sibling_until_it_times_out(flow):
    """The contrast: in poke mode the same sensor keeps the one slot, so the sibling cannot
    make the file; the sensor fails on its timeout (2 s) and only then does the sibling run."""
    flag = flow.root / "flag"
    write(flow, "sensing", SENSOR, FLAG=str(flag), MODE="poke", TIMEOUT=2)
    code, doc = run(flow, "sensing", env={"FLOWCTL_WORKERS": "1"}, timeout=40)
    assert code == 1
    assert state_map(doc) == {"wait": "failed", "make": "success"}
    assert datetime.fromisoformat(doc["tis"]["make"]["start_date"]) >= datetime.fromisoformat(doc["tis"]["wait"]["end_date"])
    assert "timed out" in log(flow, "sensing", doc["run_id"], "wait")


# -- callbacks ---------------------------------------------------------------------------------

CALLBACKS = '''
def note(kind):
    def callback(context):
        ti = context["ti"]
        error = context.get("exception")
        error = f"{type(error).__name__}: {error}" if error is not None else None  # the task's own exception
        with open(NOTES, "a") as f:
            f.write(f"{kind} {context['task'].task_id if context.get('task') else '-'} "
                    f"{ti.try_number} {context['ds']} {context['run_id']} {error}\\n")
    return callback

def explode(context):
    raise RuntimeError("callback bug")

def once_flaky(ti):
    if ti.try_number == 1:
        raise ValueError("first try fails")

def broken():
    raise KeyError("never works")

callbacks = dict(on_failure_callback=note("failure"), on_retry_callback=note("retry"),
                 on_success_callback=note("success"))

with DAG("calls", schedule=None, start_date=START, on_failure_callback=note("dag_failure"),
         on_success_callback=note("dag_success")) as dag:
    PythonOperator(task_id="flaky", python_callable=once_flaky, retries=1,
                   retry_delay=timedelta(seconds=0.2), **callbacks)
    PythonOperator(task_id="broken", python_callable=broken, **callbacks)
    PythonOperator(task_id="raiser", python_callable=lambda: "ok", on_success_callback=explode,
                   on_failure_callback=note("raiser_failure"))
'''


def test_callbacks_are_called_once_each_with_the_context_and_a_raising_one_changes_nothing(flow):
    """on_retry (flaky try 1), on_success (flaky try 2), on_failure (broken, with the
    exception) and the DAG's on_failure are each called exactly once with the context; a
    success callback that raises leaves its task success and is logged."""
    notes = flow.root / "notes.txt"
    write(flow, "calls", CALLBACKS, NOTES=str(notes))
    code, doc = run(flow, "calls")
    assert code == 1
    assert state_map(doc) == {"flaky": "success", "broken": "failed", "raiser": "success"}
    run_id = doc["run_id"]
    lines = sorted(notes.read_text().splitlines())
    assert lines == sorted([
        f"dag_failure - 0 2026-03-01 {run_id} None",
        f"failure broken 1 2026-03-01 {run_id} KeyError: 'never works'",
        f"retry flaky 1 2026-03-01 {run_id} ValueError: first try fails",
        f"success flaky 2 2026-03-01 {run_id} None",
    ]), lines
    assert "callback bug" in log(flow, "calls", run_id, "raiser")
    assert run_file_tis(flow, "calls", run_id)["raiser"]["try_number"] == 1


# -- notifications ---------------------------------------------------------------------------

NOTIFIED = '''
with DAG("notified", schedule=None, start_date=START) as dag:
    BashOperator(task_id="boom", bash_command="echo going down; exit 4", retries=1,
                 retry_delay=timedelta(seconds=0.2))
    EmptyOperator(task_id="calm")
'''


class Hook:
    """A real HTTP server on 127.0.0.1 that keeps every POSTed JSON body."""

    def __init__(self) -> None:
        bodies: list[dict[str, Any]] = []
        self.bodies = bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                length = int(self.headers.get("Content-Length", 0))
                bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook()
    yield server
    server.close()


def test_webhook_gets_one_task_failed_and_one_run_failed_body_and_the_command_the_fields(flow, hook):
    """A task failing after one retry sends exactly one task_failed body (try 2, its error and
    log) and one run_failed body (task_id and try_number null) to the webhook, nothing for the
    retried try; the notify command gets the same fields as FLOWCTL_* variables."""
    envs = flow.root / "envs"
    envs.mkdir()
    write(flow, "notified", NOTIFIED)
    # one file per call ($$ is the shell's pid): two notices may run at the same time
    env = {"FLOWCTL_NOTIFY_WEBHOOK": hook.url, "FLOWCTL_NOTIFY_COMMAND": f"env | grep ^FLOWCTL_ > {envs}/$$.env"}
    code, doc = run(flow, "notified", env=env)
    assert code == 1
    run_id = doc["run_id"]
    assert doc["tis"]["boom"]["try_number"] == 2

    # `flowctl run` waits for its notices before it exits, so every body has arrived
    events = sorted(hook.bodies, key=lambda b: b["event"])
    assert [b["event"] for b in events] == ["run_failed", "task_failed"], hook.bodies
    run_failed, task_failed = events
    fields = {"event", "dag_id", "run_id", "task_id", "try_number", "logical_date", "error", "log"}
    assert fields <= set(task_failed) and fields <= set(run_failed)
    assert task_failed["dag_id"] == run_failed["dag_id"] == "notified"
    assert task_failed["run_id"] == run_failed["run_id"] == run_id
    assert task_failed["logical_date"] == run_failed["logical_date"] == "2026-03-01T00:00:00+00:00"
    assert (task_failed["task_id"], task_failed["try_number"]) == ("boom", 2)
    assert "exit code 4" in task_failed["error"]
    assert Path(task_failed["log"]).is_file() and "going down" in Path(task_failed["log"]).read_text()
    assert (run_failed["task_id"], run_failed["try_number"]) == (None, None)
    assert "boom" in run_failed["error"]

    blocks = [p.read_text() for p in sorted(envs.iterdir())]
    assert len(blocks) == 2, blocks
    seen = [dict(line.split("=", 1) for line in block.splitlines()) for block in blocks]
    by_event = {v["FLOWCTL_EVENT"]: v for v in seen}
    assert set(by_event) == {"task_failed", "run_failed"}
    for v in by_event.values():
        assert v["FLOWCTL_DAG_ID"] == "notified" and v["FLOWCTL_RUN_ID"] == run_id
        assert v["FLOWCTL_MESSAGE"]
    assert by_event["task_failed"]["FLOWCTL_TASK_ID"] == "boom"
    assert by_event["run_failed"]["FLOWCTL_TASK_ID"] == ""
    assert "boom" in by_event["task_failed"]["FLOWCTL_MESSAGE"]


def test_a_slow_notify_command_does_not_hold_the_command_up(flow):
    """A notify command that takes 8 s: `flowctl run` waits 5 s for it, says in one
    line that it goes on in the background, and exits; the command still finishes."""
    marker = flow.root / "notified.txt"
    flow.write_dag("failer.py", """
        from flowctl import DAG, BashOperator
        with DAG("failer", schedule=None):
            BashOperator(task_id="boom", bash_command="exit 7")
    """)
    err = flow.root / "stderr.txt"  # a file, as a terminal: a pipe stays open while the notifier writes to it
    t0 = time.monotonic()
    with err.open("w") as stderr:
        code = subprocess.run([sys.executable, "-m", "flowctl", "run", "failer"], cwd=flow.root, stderr=stderr,
                              stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL, timeout=40,
                              env={**flow.env, "FLOWCTL_NOTIFY_COMMAND": f"sleep 8; echo $FLOWCTL_EVENT >> {marker}"},
                              ).returncode
    took = time.monotonic() - t0
    assert code == 1
    assert took < 8, took
    assert "still being sent after 5 s; they go on in the background" in err.read_text(), err.read_text()
    assert not marker.exists()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(marker.read_text().split() if marker.exists() else []) < 2:
        time.sleep(0.2)
    assert sorted(marker.read_text().split()) == ["run_failed", "task_failed"]


def test_a_slow_notify_command_does_not_hold_up_a_pipe_either(flow):
    """`flowctl run x 2>&1 | tee`: the notifier left in the background does not
    hold the pipe open, so the reader gets its end within the 5 s wait; a quick
    channel's complaint still reaches the pipe."""
    flow.write_dag("failer.py", """
        from flowctl import DAG, BashOperator
        with DAG("failer", schedule=None):
            BashOperator(task_id="boom", bash_command="exit 7")
    """)
    t0 = time.monotonic()
    res = flow("run", "failer", env={"FLOWCTL_NOTIFY_COMMAND": "sleep 12"}, timeout=40)  # stdout and stderr: pipes
    assert res.code == 1
    assert time.monotonic() - t0 < 10
    assert "still being sent after 5 s; they go on in the background (what they say goes to " in res.err, res.err
    quick = flow("run", "failer", env={"FLOWCTL_NOTIFY_COMMAND": "exit 3"}, timeout=40)
    assert "notify: command 'exit 3' failed" in quick.err, quick.err


def test_a_webhook_on_a_closed_port_harms_nothing(flow):
    """With the webhook pointing at a port nobody listens on, a failing DAG still ends
    normally: exit 1 within seconds, the failed task failed and its sibling success."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    write(flow, "notified", NOTIFIED)
    t0 = time.monotonic()
    code, doc = run(flow, "notified", env={"FLOWCTL_NOTIFY_WEBHOOK": f"http://127.0.0.1:{port}/"}, timeout=40)
    assert code == 1
    assert time.monotonic() - t0 < 15
    assert doc["state"] == "failed"
    assert state_map(doc) == {"boom": "failed", "calm": "success"}
    assert doc["tis"]["boom"]["try_number"] == 2
