"""airflow.utils.log."""
