-- Postgres only (replicas learn of each other's writes by NOTIFY); one server owns a SQLite
-- file, so there is nothing to tell. Kept so both dialects have the same versions.
SELECT 1;
