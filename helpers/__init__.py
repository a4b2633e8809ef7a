"""mcu-deploy helpers: one module per pipeline step (see docs/architecture.md)."""
