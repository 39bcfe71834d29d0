"""airflow.hooks.base: BaseHook, with Airflow's not-found exception."""

from __future__ import annotations

from typing import Any

from flowctl import connections
from flowctl.errors import NotFound


class BaseHook(connections.BaseHook):
    @classmethod
    def get_connection(cls, conn_id: str) -> Any:
        from airflow.exceptions import AirflowNotFoundException

        try:
            return connections.get_connection(conn_id)
        except NotFound as exc:
            raise AirflowNotFoundException(str(exc)) from None

__all__ = ['BaseHook']
