"""The offer catalogue: taxonomy, offer schema and validation, storage with history,
search, import/export (CSV, JSON, HSDS 3.0), duplicate detection and demo data."""
