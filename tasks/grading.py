"""Tasks of the grading family (queue: see celeryconfig). Filled in by the family's issue."""
