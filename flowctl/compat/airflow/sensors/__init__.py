"""airflow.sensors: Airflow 2 (and Airflow 1) sensor paths."""
