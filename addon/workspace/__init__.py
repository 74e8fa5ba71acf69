"""Workspace facts every capability shares: periods, preferences, the directory of users and groups, totals."""
