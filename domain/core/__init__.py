"""The learning core shared with the web tier: users, courses, modules, lessons, enrollments."""
