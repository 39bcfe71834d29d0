"""Sensors: the timeout verdict, poke and reschedule modes, soft_fail."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from flowctl.authoring.dag import DAG
from flowctl.authoring.sensors import (
    FileSensor,
    PythonSensor,
    Reschedule,
    TimeDeltaSensor,
    sensor_verdict,
)
from flowctl.errors import DagDefinitionError, TaskFailed, TaskSkipped

pytestmark = pytest.mark.timeout(30)


class FakeTI:
    """The smallest `ti`: only what a sensor reads."""

    def __init__(self, first_poke_at=None):
        self.first_poke_at = first_poke_at


class BareTI:
    """A `ti` without a first_poke_at attribute at all."""


def context(ti=None, end=None):
    return {"ti": ti if ti is not None else BareTI(), "data_interval_end": end or datetime.now(UTC)}


# --- sensor_verdict with a fake clock ---------------------------------------------


@pytest.mark.parametrize(
    ("first", "now", "poked", "timeout", "soft", "expected"),
    [
        (1000.0, 1000.0, True, 60.0, False, "done"),
        (1000.0, 5000.0, True, 60.0, False, "done"),  # a yes wins even after the timeout
        (1000.0, 1000.0, False, 60.0, False, "wait"),
        (1000.0, 1059.999, False, 60.0, False, "wait"),
        (1000.0, 1060.0, False, 60.0, False, "timeout_fail"),  # exactly at the boundary
        (1000.0, 1060.0, False, 60.0, True, "timeout_skip"),
        (1000.0, 1061.0, False, 60.0, False, "timeout_fail"),
        (1000.0, 1061.0, False, 60.0, True, "timeout_skip"),
        (1000.0, 1000.0, False, 0.0, False, "timeout_fail"),  # timeout 0: one poke only
    ],
)
def test_sensor_verdict_table(first, now, poked, timeout, soft, expected):
    """A yes is "done"; a no is "wait" until `timeout` seconds since the first
    poke have passed (boundary included), then a fail, or a skip with soft_fail."""
    assert sensor_verdict(first, now, poked, timeout, soft) == expected


def test_timeout_counts_from_the_first_poke_across_reschedules():
    """Each reschedule is a new try, but the clock starts at the first poke:
    pokes at 0, 40, 80 and 120 s with a 100 s timeout time out at the fourth."""
    first = 500.0
    verdicts = [sensor_verdict(first, first + t, False, 100.0, False) for t in (0, 40, 80, 120)]
    assert verdicts == ["wait", "wait", "wait", "timeout_fail"]


# --- definition ---------------------------------------------------------------------


def test_invalid_mode_is_a_dag_definition_error_naming_the_task():
    """mode must be "poke" or "reschedule"; anything else is a DagDefinitionError
    that names the task."""
    with DAG("d", schedule=None), pytest.raises(DagDefinitionError, match="wait_a_bit"):
        PythonSensor(task_id="wait_a_bit", python_callable=lambda: True, mode="smoke")


def test_poke_interval_and_timeout_accept_seconds_and_timedeltas():
    """poke_interval/timeout take seconds or timedeltas; the loader reads
    `mode` and `poke_interval_td`; the defaults are 60 s and 7 days."""
    with DAG("d", schedule=None) as dag:
        a = PythonSensor(task_id="a", python_callable=lambda: True, poke_interval=5, timeout=30)
        b = PythonSensor(
            task_id="b",
            python_callable=lambda: True,
            poke_interval=timedelta(minutes=2),
            mode="reschedule",
        )
    assert a.poke_interval_td == timedelta(seconds=5) and a.timeout == 30.0
    assert b.poke_interval_td == timedelta(minutes=2) and b.mode == "reschedule"
    assert b.timeout_td == timedelta(days=7) and a.mode == "poke"
    assert set(dag.tasks) == {"a", "b"}


def test_negative_poke_interval_is_a_dag_definition_error():
    """A negative poke_interval cannot run and is a DagDefinitionError."""
    with DAG("d", schedule=None), pytest.raises(DagDefinitionError, match="poke_interval"):
        FileSensor(task_id="f", filepath="/tmp/x", poke_interval=-1)


# --- poke mode --------------------------------------------------------------------


def test_poke_mode_returns_when_the_condition_becomes_true(capsys):
    """In poke mode the sensor pokes every poke_interval and returns None on
    the first yes (here the 3rd poke), logging one line per poke."""
    calls = []

    def ready() -> bool:
        calls.append(time.monotonic())
        return len(calls) >= 3

    with DAG("d", schedule=None):
        sensor = PythonSensor(task_id="s", python_callable=ready, poke_interval=0.05, timeout=20)
    assert sensor.execute(context()) is None
    assert len(calls) == 3
    assert calls[2] - calls[0] >= 0.09
    out = capsys.readouterr().out
    assert "poke 1: not yet; next in 0.05 s" in out
    assert "poke 2: not yet" in out and "poke 3: condition met" in out


def test_poke_mode_timeout_fails():
    """A poke-mode sensor whose condition never comes true fails (TaskFailed)
    once timeout has passed."""
    with DAG("d", schedule=None):
        sensor = PythonSensor(task_id="s", python_callable=lambda: False, poke_interval=0.05, timeout=0.2)
    with pytest.raises(TaskFailed, match="timed out after 0.2 s"):
        sensor.execute(context())


def test_soft_fail_timeout_is_skipped():
    """With soft_fail=True a timed-out sensor ends as skipped (TaskSkipped)."""
    with DAG("d", schedule=None):
        sensor = PythonSensor(
            task_id="s", python_callable=lambda: False, poke_interval=0.05, timeout=0.15, soft_fail=True
        )
    with pytest.raises(TaskSkipped):
        sensor.execute(context())


def test_python_sensor_receives_op_args_and_context_values():
    """The callable gets op_args, op_kwargs and context values by parameter name."""
    seen = {}

    def check(a, b=None, ti=None):
        seen.update(a=a, b=b, ti=ti)
        return True

    ti = FakeTI()
    with DAG("d", schedule=None):
        sensor = PythonSensor(task_id="s", python_callable=check, op_args=[1], op_kwargs={"b": 2})
    sensor.execute(context(ti))
    assert seen == {"a": 1, "b": 2, "ti": ti}


# --- reschedule mode --------------------------------------------------------------


def test_reschedule_mode_raises_reschedule_with_a_future_next_poke():
    """In reschedule mode a "not yet" raises Reschedule with next_poke_at
    (ISO 8601, UTC) about poke_interval from now, and first_poke_at = now
    when the ti has none."""
    with DAG("d", schedule=None):
        sensor = PythonSensor(
            task_id="s", python_callable=lambda: False, poke_interval=30, mode="reschedule"
        )
    before = datetime.now(UTC)
    with pytest.raises(Reschedule) as info:
        sensor.execute(context(BareTI()))
    after = datetime.now(UTC)
    next_at = datetime.fromisoformat(info.value.next_poke_at)
    first = datetime.fromisoformat(info.value.first_poke_at)
    assert next_at.utcoffset() == timedelta(0)
    assert next_at > after
    assert before + timedelta(seconds=30) <= next_at <= after + timedelta(seconds=30)
    assert before <= first <= after


def test_reschedule_mode_keeps_the_first_poke_time_from_the_ti():
    """A later poke reads ti.first_poke_at (ISO string or epoch seconds) and
    passes the same first poke time on."""
    first = datetime.now(UTC) - timedelta(seconds=100)
    with DAG("d", schedule=None):
        sensor = PythonSensor(
            task_id="s", python_callable=lambda: False, poke_interval=10, timeout=3600, mode="reschedule"
        )
    for stored in (first.isoformat(), first.timestamp()):
        with pytest.raises(Reschedule) as info:
            sensor.execute(context(FakeTI(stored)))
        assert abs(datetime.fromisoformat(info.value.first_poke_at) - first) < timedelta(seconds=1)


def test_reschedule_mode_times_out_from_the_first_poke():
    """When ti.first_poke_at is longer ago than timeout, the poke fails the
    task, or skips it with soft_fail."""
    long_ago = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    with DAG("d", schedule=None):
        hard = PythonSensor(task_id="hard", python_callable=lambda: False, timeout=3600, mode="reschedule")
        soft = PythonSensor(
            task_id="soft", python_callable=lambda: False, timeout=3600, mode="reschedule", soft_fail=True
        )
    with pytest.raises(TaskFailed, match="timed out"):
        hard.execute(context(FakeTI(long_ago)))
    with pytest.raises(TaskSkipped):
        soft.execute(context(FakeTI(long_ago)))


def test_reschedule_mode_done_returns():
    """A yes in reschedule mode ends the task normally (returns None)."""
    with DAG("d", schedule=None):
        sensor = PythonSensor(task_id="s", python_callable=lambda: True, mode="reschedule")
    assert sensor.execute(context(FakeTI(None))) is None


# --- FileSensor and TimeDeltaSensor ------------------------------------------------


def test_file_sensor_pokes_for_a_path_or_glob(tmp_path):
    """FileSensor is done once the path (or a glob match) exists; a directory
    counts once it holds a file."""
    with DAG("d", schedule=None):
        exact = FileSensor(task_id="exact", filepath=str(tmp_path / "data.json"))
        pattern = FileSensor(task_id="pattern", filepath=str(tmp_path / "*.csv"))
        folder = FileSensor(task_id="folder", filepath=str(tmp_path / "out"))
    ctx = context()
    assert not exact.poke(ctx) and not pattern.poke(ctx) and not folder.poke(ctx)
    (tmp_path / "data.json").write_text("{}")
    (tmp_path / "2026-01-01.csv").write_text("x")
    (tmp_path / "out").mkdir()
    assert exact.poke(ctx) and pattern.poke(ctx) and not folder.poke(ctx)
    (tmp_path / "out" / "part-0").write_text("x")
    assert folder.poke(ctx)
    assert pattern.code_text() == str(tmp_path / "*.csv")


def test_time_delta_sensor_waits_after_the_data_interval_end():
    """TimeDeltaSensor is done once data_interval_end + delta has passed."""
    now = datetime.now(UTC)
    with DAG("d", schedule=None):
        sensor = TimeDeltaSensor(task_id="t", delta=timedelta(minutes=10))
    assert sensor.poke(context(end=now - timedelta(minutes=11)))
    assert not sensor.poke(context(end=now - timedelta(minutes=9)))
    assert sensor.code_text() == "0:10:00"
