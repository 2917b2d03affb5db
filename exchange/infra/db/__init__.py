"""Database adapters: engine, schema (models), migrations."""
