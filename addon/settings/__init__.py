"""Workspace settings: the schema of every key, the versioned store, and the settings page."""
