"""The background queue with a real consumer."""
