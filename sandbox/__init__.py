"""The sandbox: a local stand-in for Clockify (API, host shell, tokens, webhooks) for dev, demos and tests."""

from .app import create_sandbox

__all__ = ["create_sandbox"]
