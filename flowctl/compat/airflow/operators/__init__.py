"""airflow.operators: Airflow 2 (and Airflow 1) operator paths."""
