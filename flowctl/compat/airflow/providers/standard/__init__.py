"""The standard provider (Airflow 3 paths of the core operators and sensors)."""
