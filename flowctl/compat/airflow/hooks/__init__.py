"""airflow.hooks."""
