"""airflow.models.xcom: XCom as task code reads it (through the running task)."""

from __future__ import annotations

from typing import Any

XCOM_RETURN_KEY = "return_value"


class XCom:
    """`XCom.get_one` / `XCom.get_value` read the running task's run, as `ti.xcom_pull` does."""

    @staticmethod
    def get_one(run_id: str | None = None, key: str | None = None, task_id: str | None = None,
                dag_id: str | None = None, **_: Any) -> Any:
        from flowctl.runtime.context import get_current_context

        return get_current_context()["ti"].xcom_pull(task_ids=task_id, dag_id=dag_id, key=key or XCOM_RETURN_KEY)

    @staticmethod
    def get_value(*, ti_key: Any = None, key: str | None = None, **_: Any) -> Any:
        from flowctl.runtime.context import get_current_context

        task_id = getattr(ti_key, "task_id", None)
        return get_current_context()["ti"].xcom_pull(task_ids=task_id, key=key or XCOM_RETURN_KEY)

__all__ = ['XCom', 'XCOM_RETURN_KEY']
