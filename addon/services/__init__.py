"""Business rules, one module per capability; plain functions that never commit."""
