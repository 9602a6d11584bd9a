"""Data collection: templates, readers, validation, the audited write path, approval and locking."""
