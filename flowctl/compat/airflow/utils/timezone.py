"""airflow.utils.timezone: the helpers DAG files use."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum

utc = pendulum.timezone("UTC")


def utcnow() -> dt.datetime:
    return pendulum.now("UTC")


def datetime(*args: Any, **kwargs: Any) -> dt.datetime:
    """A datetime in UTC unless `tzinfo` says otherwise (Airflow's)."""
    kwargs.setdefault("tzinfo", utc)
    return dt.datetime(*args, **kwargs)


def is_localized(value: dt.datetime) -> bool:
    return value.utcoffset() is not None


def is_naive(value: dt.datetime) -> bool:
    return value.utcoffset() is None


def make_aware(value: dt.datetime, timezone: Any = None) -> dt.datetime:
    return value.replace(tzinfo=timezone or utc) if value.tzinfo is None else value


def make_naive(value: dt.datetime, timezone: Any = None) -> dt.datetime:
    return value.astimezone(timezone or utc).replace(tzinfo=None)


def convert_to_utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return make_aware(value).astimezone(utc)


def coerce_datetime(value: dt.datetime | None, tz: Any = None) -> Any:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz or utc)
    return pendulum.instance(value)


def parse(string: str, timezone: Any = None) -> dt.datetime:
    return pendulum.parse(string, tz=timezone or utc)

__all__ = ['utcnow', 'datetime', 'make_aware', 'make_naive', 'convert_to_utc', 'coerce_datetime', 'parse', 'utc', 'is_localized', 'is_naive']
