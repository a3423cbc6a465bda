"""The independent reference: recordings I/O, conventions, float64 textbook AdamW, seed statistics."""
