"""The error types Closeout raises at its edges; errors.py renders them, nothing here imports the app."""

from __future__ import annotations


class AuthError(Exception):
    """A request that must not be trusted: status is 401 (who are you) or 403 (not allowed)."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class BadRequestError(Exception):
    """A verified request whose body or headers cannot be used (400)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PayloadError(ValueError):
    """A lifecycle body that is missing what the event needs (400)."""


class DomainError(Exception):
    """An action a capability refuses as asked; `status` is the HTTP status to answer with, `message` what to show."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ApprovalError(DomainError):
    """A decision or query on approval requests that cannot be made as asked."""


class BillingError(DomainError):
    """A billing action (an invoice, a payment, a range) that cannot be done as asked."""
