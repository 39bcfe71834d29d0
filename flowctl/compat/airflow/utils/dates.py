"""airflow.utils.dates: days_ago (Airflow 1/2) and the cron presets."""

from __future__ import annotations

from datetime import datetime, timedelta

from flowctl.timetables import PRESETS as cron_presets  # noqa: F401


def days_ago(n: int, hour: int = 0, minute: int = 0, second: int = 0, microsecond: int = 0) -> datetime:
    """Midnight UTC today minus `n` days (or the given time of day), as Airflow's."""
    import pendulum

    today = pendulum.now("UTC").replace(hour=hour, minute=minute, second=second, microsecond=microsecond)
    return today - timedelta(days=n)

__all__ = ['days_ago', 'cron_presets']
