"""Tasks of the certificates family (queue: see celeryconfig). Filled in by the family's issue."""
