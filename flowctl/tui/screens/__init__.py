"""The screens: main (tree and DAG table), DAG (grid, graph, gantt, code),
task instance (details and log), modals (confirmations, help, errors)."""
