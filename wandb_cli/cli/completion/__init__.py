"""cli/completion: see docs/architecture.md."""
