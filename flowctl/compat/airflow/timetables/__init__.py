"""airflow.timetables: the built-in timetables, as flowctl schedules."""
