"""Pure models of jobs, steps, params and lookups; their loader, validation and placeholders."""
