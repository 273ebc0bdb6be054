-- The PostgreSQL side of bench/reconcile-mariadb.sh: :n rows in the shape of
-- bench/reconcile/dataset.sql, with the types Debezium's JDBC sink writes
-- for a MariaDB source (DECIMAL -> numeric, TIMESTAMP(6) -> timestamptz,
-- JSON -> json). The same rows are loaded into MariaDB from export.
CREATE TABLE customers (id bigint NOT NULL, name text, email text, balance numeric(12,2), updated_at timestamptz(6), meta json);
INSERT INTO customers
SELECT i,
       'name ' || substr(md5(i::text), 1, 12),
       substr(md5((i * 7)::text), 1, 16) || '@example.com',
       (i % 1000000) / 100.0,
       timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second' + (i % 1000) * interval '1 microsecond',
       jsonb_build_object('i', i, 'tag', substr(md5(i::text), 1, 8), 'ok', i % 2 = 0)::text::json
FROM generate_series(1, :n) i;
ALTER TABLE customers ADD PRIMARY KEY (id);
