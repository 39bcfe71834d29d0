"""airflow.timetables.assets: a time schedule that also runs on asset updates."""

from __future__ import annotations

from flowctl.authoring.assets import AssetOrTimeSchedule  # noqa: F401

__all__ = ['AssetOrTimeSchedule']
