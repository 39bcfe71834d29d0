"""airflow.utils: the helpers DAG files import."""
