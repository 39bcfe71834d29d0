"""The authoring API: what DAG files build (DAG, operators, @task, sensors). No I/O."""
