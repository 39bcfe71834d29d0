"""airflow.utils.session: importable; refused when a session would be used.

Airflow's sessions are SQLAlchemy sessions on its metadata database; flowctl has no
such database (its state is a TinyDB store only the engine writes), so there is
nothing sound to hand out. Decorating a function at load time is harmless; calling it
without a session of the caller's own is refused with one line."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from airflow._refused import refuse

_F = TypeVar("_F", bound=Callable[..., Any])

NEW_SESSION: Any = None
"""Airflow's default for a `session` argument that provide_session fills in."""

WHY = ("flowctl has no metadata database, so there is no SQLAlchemy session; read runs and "
       "task states from the task's context (ti, dag_run) or the `flowctl` commands")


def no_session(name: str) -> NoReturn:
    refuse(name, WHY)


def provide_session(func: _F) -> _F:
    """Call `func` when the caller passes a session; refuse to make one up."""
    params = list(inspect.signature(func).parameters)
    position = params.index("session") if "session" in params else None

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = kwargs.get("session") if position is None or len(args) <= position else args[position]
        if given is None:
            no_session(f"@provide_session {func.__qualname__}")
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def create_session(*args: Any, **kwargs: Any) -> NoReturn:
    no_session("create_session")


__all__ = ['NEW_SESSION', 'provide_session', 'create_session']
