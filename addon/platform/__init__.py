"""The platform: installations and their lifecycle, webhook intake and the inbox, reconciliation, audit."""
