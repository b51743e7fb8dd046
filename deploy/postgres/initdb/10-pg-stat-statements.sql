-- Run once, when the postgres service initialises an empty data directory (the official image's
-- /docker-entrypoint-initdb.d). Statement statistics for finding slow queries: the library is
-- preloaded by docker-compose.yml's `shared_preload_libraries=pg_stat_statements`.
-- An existing database: docker compose exec postgres psql -U refnet -d refnet -f
-- /docker-entrypoint-initdb.d/10-pg-stat-statements.sql
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
