"""PostgreSQL for covet's database layer."""
