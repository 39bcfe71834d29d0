"""Airflow 1 and 2 module paths whose code now lives in a provider package flowctl does not ship.

`import airflow.hooks.postgres_hook` fails as an import of its provider module
(`airflow.providers.postgres.hooks.postgres`), so the loader's message names the
package to install under Airflow (apache-airflow-providers-postgres). The table
follows Airflow 2's deprecated-module tables (airflow/{operators,hooks,sensors}/__init__.py),
plus Airflow 1.10 paths and `generic_transfer` (common-sql since Airflow 3)."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

_SQL = "airflow.providers.common.sql"
_HIVE = "airflow.providers.apache.hive"
_AWS = "airflow.providers.amazon.aws"

MOVED: dict[str, str] = {
    # airflow.hooks
    "airflow.hooks.S3_hook": f"{_AWS}.hooks.s3",
    "airflow.hooks.dbapi": f"{_SQL}.hooks.sql",
    "airflow.hooks.dbapi_hook": f"{_SQL}.hooks.sql",
    "airflow.hooks.docker_hook": "airflow.providers.docker.hooks.docker",
    "airflow.hooks.druid_hook": "airflow.providers.apache.druid.hooks.druid",
    "airflow.hooks.hdfs_hook": "airflow.providers.apache.hdfs.hooks.hdfs",
    "airflow.hooks.hive_hooks": f"{_HIVE}.hooks.hive",
    "airflow.hooks.http_hook": "airflow.providers.http.hooks.http",
    "airflow.hooks.jdbc_hook": "airflow.providers.jdbc.hooks.jdbc",
    "airflow.hooks.mssql_hook": "airflow.providers.microsoft.mssql.hooks.mssql",
    "airflow.hooks.mysql_hook": "airflow.providers.mysql.hooks.mysql",
    "airflow.hooks.oracle_hook": "airflow.providers.oracle.hooks.oracle",
    "airflow.hooks.pig_hook": "airflow.providers.apache.pig.hooks.pig",
    "airflow.hooks.postgres_hook": "airflow.providers.postgres.hooks.postgres",
    "airflow.hooks.presto_hook": "airflow.providers.presto.hooks.presto",
    "airflow.hooks.samba_hook": "airflow.providers.samba.hooks.samba",
    "airflow.hooks.slack_hook": "airflow.providers.slack.hooks.slack",
    "airflow.hooks.sqlite_hook": "airflow.providers.sqlite.hooks.sqlite",
    "airflow.hooks.webhdfs_hook": "airflow.providers.apache.hdfs.hooks.webhdfs",
    "airflow.hooks.zendesk_hook": "airflow.providers.zendesk.hooks.zendesk",
    # airflow.operators
    "airflow.operators.check_operator": f"{_SQL}.operators.sql",
    "airflow.operators.docker_operator": "airflow.providers.docker.operators.docker",
    "airflow.operators.druid_check_operator": "airflow.providers.apache.druid.operators.druid_check",
    "airflow.operators.gcs_to_s3": f"{_AWS}.transfers.gcs_to_s3",
    "airflow.operators.generic_transfer": f"{_SQL}.operators.generic_transfer",
    "airflow.operators.google_api_to_s3_transfer": f"{_AWS}.transfers.google_api_to_s3",
    "airflow.operators.hive_operator": f"{_HIVE}.operators.hive",
    "airflow.operators.hive_stats_operator": f"{_HIVE}.operators.hive_stats",
    "airflow.operators.hive_to_druid": "airflow.providers.apache.druid.transfers.hive_to_druid",
    "airflow.operators.hive_to_mysql": f"{_HIVE}.transfers.hive_to_mysql",
    "airflow.operators.hive_to_samba_operator": f"{_HIVE}.transfers.hive_to_samba",
    "airflow.operators.http_operator": "airflow.providers.http.operators.http",
    "airflow.operators.jdbc_operator": "airflow.providers.jdbc.operators.jdbc",
    "airflow.operators.mssql_operator": "airflow.providers.microsoft.mssql.operators.mssql",
    "airflow.operators.mssql_to_hive": f"{_HIVE}.transfers.mssql_to_hive",
    "airflow.operators.mysql_operator": "airflow.providers.mysql.operators.mysql",
    "airflow.operators.mysql_to_hive": f"{_HIVE}.transfers.mysql_to_hive",
    "airflow.operators.oracle_operator": "airflow.providers.oracle.operators.oracle",
    "airflow.operators.papermill_operator": "airflow.providers.papermill.operators.papermill",
    "airflow.operators.pig_operator": "airflow.providers.apache.pig.operators.pig",
    "airflow.operators.postgres_operator": "airflow.providers.postgres.operators.postgres",
    "airflow.operators.presto_check_operator": f"{_SQL}.operators.sql",
    "airflow.operators.presto_to_mysql": "airflow.providers.mysql.transfers.presto_to_mysql",
    "airflow.operators.redshift_to_s3_operator": f"{_AWS}.transfers.redshift_to_s3",
    "airflow.operators.s3_file_transform_operator": f"{_AWS}.operators.s3_file_transform",
    "airflow.operators.s3_to_hive_operator": f"{_HIVE}.transfers.s3_to_hive",
    "airflow.operators.s3_to_redshift_operator": f"{_AWS}.transfers.s3_to_redshift",
    "airflow.operators.slack_operator": "airflow.providers.slack.operators.slack",
    "airflow.operators.sql": f"{_SQL}.operators.sql",
    "airflow.operators.sql_branch_operator": f"{_SQL}.operators.sql",
    "airflow.operators.sqlite_operator": "airflow.providers.sqlite.operators.sqlite",
    # airflow.sensors
    "airflow.sensors.hdfs_sensor": "airflow.providers.apache.hdfs.sensors.hdfs",
    "airflow.sensors.hive_partition_sensor": f"{_HIVE}.sensors.hive_partition",
    "airflow.sensors.http_sensor": "airflow.providers.http.sensors.http",
    "airflow.sensors.metastore_partition_sensor": f"{_HIVE}.sensors.metastore_partition",
    "airflow.sensors.named_hive_partition_sensor": f"{_HIVE}.sensors.named_hive_partition",
    "airflow.sensors.s3_key_sensor": f"{_AWS}.sensors.s3",
    "airflow.sensors.s3_prefix_sensor": f"{_AWS}.sensors.s3",
    "airflow.sensors.sql": f"{_SQL}.sensors.sql",
    "airflow.sensors.sql_sensor": f"{_SQL}.sensors.sql",
    "airflow.sensors.web_hdfs_sensor": "airflow.providers.apache.hdfs.sensors.web_hdfs",
}


def refuse_moved(old: str, target: str) -> NoReturn:
    """Fail as an import of `target`, the provider module `old` moved to."""
    raise ModuleNotFoundError(f"No module named {target!r} ({old} moved there)", name=target)


class MovedToProvider:
    """A meta path finder, after the layer's own: a moved path is an import error of its provider module."""

    @staticmethod
    def find_spec(fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname in MOVED:
            refuse_moved(fullname, MOVED[fullname])


def install() -> None:
    if not any(isinstance(finder, MovedToProvider) for finder in sys.meta_path):
        sys.meta_path.append(MovedToProvider())
