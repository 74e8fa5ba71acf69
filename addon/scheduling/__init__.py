"""Scheduling: plan against actual on the Schedule page."""
