"""The engine: the one loop that carries runs out, its pure decisions, run creation, the scheduler process."""
