"""airflow.operators.sensors: Airflow 1.10's module of the core sensors.

The core ones map to flowctl's; those Airflow moved to provider packages (HttpSensor,
SqlSensor, S3KeySensor, ...) fail at import naming the package, as their own paths do."""

from __future__ import annotations

from typing import Any

from airflow._moved import MOVED, refuse_moved
from airflow.sensors.base import BaseSensorOperator  # noqa: F401
from airflow.sensors.date_time import DateTimeSensor  # noqa: F401
from airflow.sensors.external_task import ExternalTaskMarker, ExternalTaskSensor  # noqa: F401
from airflow.sensors.time_delta import TimeDeltaSensor  # noqa: F401
from airflow.sensors.time_sensor import TimeSensor  # noqa: F401

_IN_PROVIDERS = {
    "HdfsSensor": "airflow.sensors.hdfs_sensor",
    "HivePartitionSensor": "airflow.sensors.hive_partition_sensor",
    "HttpSensor": "airflow.sensors.http_sensor",
    "MetastorePartitionSensor": "airflow.sensors.metastore_partition_sensor",
    "NamedHivePartitionSensor": "airflow.sensors.named_hive_partition_sensor",
    "S3KeySensor": "airflow.sensors.s3_key_sensor",
    "S3PrefixSensor": "airflow.sensors.s3_prefix_sensor",
    "SqlSensor": "airflow.sensors.sql_sensor",
    "WebHdfsSensor": "airflow.sensors.web_hdfs_sensor",
}


def __getattr__(name: str) -> Any:
    if name in _IN_PROVIDERS:
        refuse_moved(f"{__name__}.{name}", MOVED[_IN_PROVIDERS[name]])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ['BaseSensorOperator', 'DateTimeSensor', 'ExternalTaskMarker', 'ExternalTaskSensor', 'TimeDeltaSensor',
           'TimeSensor']
