"""Helpers for the TUI tests: sample DAGs, a Service on a temporary home, state
written through the Store API with fixed times, and a wait for the app to settle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

ETL_DAG = """
import pendulum
from flowctl import DAG, BashOperator

with DAG(dag_id="etl", schedule="@daily", start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
         catchup=False, tags=["demo"]) as dag:
    extract = BashOperator(task_id="extract", bash_command="echo extracting {{ ds }}")
    transform = BashOperator(task_id="transform", bash_command="echo transforming; test ! -e {{ params.fail }}",
                             params={"fail": "/nonexistent"})
    load = BashOperator(task_id="load", bash_command="echo loading")
    extract >> transform >> load
"""

FLAKY_DAG = """
import pendulum
from flowctl import DAG, BashOperator

with DAG(dag_id="flaky", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), tags=["demo"]) as dag:
    fetch = BashOperator(task_id="fetch", bash_command="echo fetching")
    parse = BashOperator(task_id="parse", bash_command="echo parsing; exit 1")
    store = BashOperator(task_id="store", bash_command="echo storing")
    fetch >> parse >> store
"""

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
"""The fixed "now" of the snapshot tests."""


def make_service(flow: Any) -> Any:
    from flowctl.config import load_settings
    from flowctl.service import Service

    settings = load_settings(dags_folder=str(flow.dags), home=str(flow.home), default_timezone="UTC", workers=2)
    service = Service.from_settings(settings)
    service.dagbag()  # import the DAG files now, before the app starts threads
    return service


async def settle(pilot: Any, until: Callable[[], bool] | None = None, timeout: float = 15.0) -> None:
    """Let workers finish and messages land; with `until`, wait for it (or fail)."""
    app = pilot.app
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        await pilot.pause(0.05)
        await app.workers.wait_for_complete()
        await pilot.pause(0.05)
        busy = app._refreshing or any(w.is_running for w in app.workers)
        done = until() if until is not None else app.snapshot is not None
        if done and not busy:
            return
        if loop.time() > deadline:
            if until is not None and not until():
                raise AssertionError("the app did not reach the expected state in time")
            return


def put_run(service: Any, dag_id: str, logical: datetime, run_state: str,
            tis: dict[str, dict[str, Any]], run_type: str = "scheduled") -> str:
    """Write a run with fixed times through the Store API (no real execution)."""
    spec = service.dag(dag_id)
    tt = spec.timetable()
    interval = tt.interval_for(logical)
    run_id = service.create_run(spec, run_type=run_type, logical_date=logical,
                                interval=(interval.start, interval.end), now=logical)
    with service.store.transaction() as tx:
        rf = tx.run(dag_id, run_id)
        starts = [f["start"] for f in tis.values() if f.get("start")]
        ends = [f["end"] for f in tis.values() if f.get("end")]
        rf.update_run(state=run_state, start_date=min(starts).isoformat() if starts else None,
                      end_date=max(ends).isoformat() if ends and run_state in ("success", "failed") else None,
                      heartbeat=logical.isoformat(), queued_at=logical.isoformat())
        for tid, f in tis.items():
            start, end, state = f.get("start"), f.get("end"), f["state"]
            tries = []
            n = f.get("try", 1 if start else 0)
            for i, (s, e, st) in enumerate(f.get("earlier", []), start=1):
                tries.append({"try_number": i, "state": st, "start_date": s.isoformat(), "end_date": e.isoformat(),
                              "duration": (e - s).total_seconds(), "exit_code": 1, "error": "exit code 1"})
            if start and end:
                tries.append({"try_number": n, "state": state, "start_date": start.isoformat(),
                              "end_date": end.isoformat(), "duration": (end - start).total_seconds(),
                              "exit_code": 0 if state == "success" else 1, "error": None})
            extra = {k: v for k, v in f.items() if k not in ("state", "start", "end", "try", "earlier")}
            rf.put_ti(tid, state=state, try_number=n,
                      start_date=start.isoformat() if start else None,
                      end_date=end.isoformat() if end else None,
                      duration=(end - start).total_seconds() if start and end else None,
                      tries=tries, error="exit code 1" if state == "failed" else None, **extra)
    return run_id


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def on_screen(widget: Any) -> bool:
    """Whether a widget is drawn in full on its screen (not clipped by a scroll)."""
    from textual.errors import NoWidget

    try:
        where = widget.screen.find_widget(widget)
    except NoWidget:
        return False
    return where.region.height > 0 and where.clip.contains_region(where.region) \
        and widget.screen.region.contains_region(where.region)


def run_async(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run an async test in its own event loop (no pytest asyncio plugin needed)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


REPORTS_DAG = """
import pendulum
from flowctl import DAG, BashOperator, EmptyOperator, TaskGroup

with DAG(dag_id="reports", schedule="@hourly", start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
         catchup=False, tags=["reporting"], description="Hourly sales and cost reports") as dag:
    start = EmptyOperator(task_id="start")
    with TaskGroup("sales"):
        sales_load = BashOperator(task_id="load", bash_command="echo sales")
        sales_check = BashOperator(task_id="check", bash_command="echo check", retries=2)
        sales_load >> sales_check
    with TaskGroup("costs"):
        costs_load = BashOperator(task_id="load", bash_command="echo costs")
    publish = BashOperator(task_id="publish", bash_command="echo publish")
    notify = BashOperator(task_id="notify", bash_command="echo notify")
    start >> [sales_load, costs_load]
    [sales_check, costs_load] >> publish >> notify
    start >> notify
"""

FIXED_NOW = datetime(2026, 3, 2, 0, 10, tzinfo=UTC)
"""The clock of the snapshot tests: ten minutes into the day whose run is going on."""


def seed_fixed(flow: Any) -> Any:
    """Three DAGs, one broken file, and runs with fixed times and every kind
    of state, written through the Store API: the snapshot tests' world."""
    flow.write_dag("etl.py", ETL_DAG)
    flow.write_dag("flaky.py", FLAKY_DAG)
    flow.write_dag("reports.py", REPORTS_DAG)
    flow.write_dag("broken.py", "import nonexistent_module_xyz  # a broken dag file\n")
    service = make_service(flow)

    def at(day: datetime, m: float) -> datetime:
        return day + timedelta(minutes=m)

    for i, kind in enumerate(("ok", "fail", "ok", "retry", "ok", "ok")):
        logical = datetime(2026, 2, 23, tzinfo=UTC) + timedelta(days=i)
        ran = logical + timedelta(days=1)
        tis: dict[str, dict[str, Any]] = {"extract": {"state": "success", "start": at(ran, 0.1), "end": at(ran, 1)}}
        if kind == "fail":
            tis["transform"] = {"state": "failed", "start": at(ran, 2.5), "end": at(ran, 3), "try": 2,
                                "earlier": [(at(ran, 1.1), at(ran, 1.5), "up_for_retry")]}
            tis["load"] = {"state": "upstream_failed", "try": 0}
            state = "failed"
        else:
            if kind == "retry":
                tis["transform"] = {"state": "success", "start": at(ran, 2), "end": at(ran, 4), "try": 2,
                                    "earlier": [(at(ran, 1.1), at(ran, 1.6), "up_for_retry")]}
            else:
                tis["transform"] = {"state": "success", "start": at(ran, 1.1), "end": at(ran, 3.5)}
            tis["load"] = {"state": "success", "start": at(ran, 4.1), "end": at(ran, 5)}
            state = "success"
        put_run(service, "etl", logical, state, tis)
    ran = datetime(2026, 3, 2, tzinfo=UTC)
    put_run(service, "etl", datetime(2026, 3, 1, tzinfo=UTC), "running", {
        "extract": {"state": "success", "start": at(ran, 0.1), "end": at(ran, 2)},
        "transform": {"state": "running", "start": at(ran, 2.2), "pid": 4242},
        "load": {"state": "none", "try": 0},
    })
    put_run(service, "flaky", datetime(2026, 3, 1, 12, tzinfo=UTC), "failed", {
        "fetch": {"state": "success", "start": datetime(2026, 3, 1, 12, 0, 1, tzinfo=UTC),
                  "end": datetime(2026, 3, 1, 12, 0, 2, tzinfo=UTC)},
        "parse": {"state": "failed", "start": datetime(2026, 3, 1, 12, 0, 3, tzinfo=UTC),
                  "end": datetime(2026, 3, 1, 12, 0, 4, tzinfo=UTC)},
        "store": {"state": "upstream_failed", "try": 0},
    }, run_type="manual")
    hour = datetime(2026, 3, 1, 23, tzinfo=UTC)
    ran = hour + timedelta(hours=1)
    put_run(service, "reports", hour, "running", {
        "start": {"state": "success", "start": at(ran, 0.1), "end": at(ran, 0.2)},
        "sales.load": {"state": "success", "start": at(ran, 0.3), "end": at(ran, 4)},
        "sales.check": {"state": "up_for_retry", "start": at(ran, 4.1), "end": at(ran, 5), "try": 1},
        "costs.load": {"state": "success", "start": at(ran, 0.3), "end": at(ran, 2)},
        "publish": {"state": "none", "try": 0},
        "notify": {"state": "none", "try": 0},
    })
    service.set_paused("flaky", True)
    return service
