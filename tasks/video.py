"""Tasks of the video family (queue: see celeryconfig). Filled in by the family's issue."""
