"""airflow.timetables.datasets: Airflow 2's name of AssetOrTimeSchedule."""

from __future__ import annotations

from typing import Any

from flowctl.authoring.assets import AssetOrTimeSchedule


class DatasetOrTimeSchedule(AssetOrTimeSchedule):
    def __init__(self, *, timetable: Any, datasets: Any) -> None:
        super().__init__(timetable=timetable, assets=datasets)

__all__ = ['DatasetOrTimeSchedule']
