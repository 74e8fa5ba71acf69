"""Webhook intake and inbox processing."""
