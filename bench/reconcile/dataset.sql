-- The source table of bench/reconcile.sh: :n rows, about 140 bytes each as
-- t::text, in the shape of reconcile-anchors.md.
CREATE TABLE customers (id bigint NOT NULL, name text, email text, balance numeric(12,2), updated_at timestamptz, meta jsonb);
INSERT INTO customers
SELECT i,
       'name ' || substr(md5(i::text), 1, 12),
       substr(md5((i * 7)::text), 1, 16) || '@example.com',
       (i % 1000000) / 100.0,
       timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second' + (i % 1000) * interval '1 microsecond',
       jsonb_build_object('i', i, 'tag', substr(md5(i::text), 1, 8), 'ok', i % 2 = 0)
FROM generate_series(1, :n) i;
ALTER TABLE customers ADD PRIMARY KEY (id);
