"""Billing: invoicing exactly the approved time (the Invoices page action)."""
