"""The `conveyor` command: one module per command group, all calling the shared actions."""
