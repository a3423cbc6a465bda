"""Pure-NumPy emulation of torch's bf16 AdamW paths: bits, exact FMA, op programs, recipes."""
