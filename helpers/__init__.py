"""mcu-deploy helpers: one module per pipeline step (see README.md, "Architecture")."""
