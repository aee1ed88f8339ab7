"""sdk: see docs/architecture.md."""
