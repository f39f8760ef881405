"""Storage: the tables, the engine and sessions, the queries, and the migrations."""
