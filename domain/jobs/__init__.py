"""The one job lifecycle every family shares: states, models, enqueue, outbox, leases."""
