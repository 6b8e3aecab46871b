"""Tasks of the sandbox family (queue: see celeryconfig). Filled in by the family's issue."""
