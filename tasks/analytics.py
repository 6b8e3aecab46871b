"""Tasks of the analytics family (queue: see celeryconfig). Filled in by the family's issue."""
