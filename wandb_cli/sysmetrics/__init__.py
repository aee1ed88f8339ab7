"""sysmetrics: see docs/architecture.md."""
