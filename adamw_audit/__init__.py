"""adamw-audit: the commands (record, verify, notebook, ...), thin layers over emulation/ and refimpl/."""
