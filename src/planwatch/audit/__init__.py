"""Append-only, hash-chained audit logs (the security log now; data-value audit shares the chain)."""
