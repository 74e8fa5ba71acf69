"""Approvals: the mirror of Clockify's approval requests, the queue, decisions, auto-approval and the tab."""
