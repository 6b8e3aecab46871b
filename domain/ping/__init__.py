"""The built-in ``ping`` job: health checks, benchmarks and lifecycle drills."""
