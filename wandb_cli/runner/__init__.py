"""runner: see docs/architecture.md."""
