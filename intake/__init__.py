"""The thin intake API: authenticate, validate, write job + outbox, publish, answer 202."""
