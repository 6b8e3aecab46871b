"""The beat schedule (one table) and the single-beat guarantee."""
