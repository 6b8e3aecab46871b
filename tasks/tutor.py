"""Tasks of the tutor family (queue: see celeryconfig). Filled in by the family's issue."""
