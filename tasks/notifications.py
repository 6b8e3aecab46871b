"""Tasks of the notifications family (queue: see celeryconfig). Filled in by the family's issue."""
