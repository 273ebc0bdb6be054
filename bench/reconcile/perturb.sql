-- Perturbs the sink copy: :k rows deleted (missing in the sink), :k rows
-- changed (email or balance), :k rows added above the largest id (extra in
-- the sink). The perturbed ids are chosen pseudo-randomly over the whole
-- table and recorded in injected(kind, id).
CREATE TABLE injected (kind text NOT NULL, id bigint NOT NULL);
INSERT INTO injected
SELECT CASE WHEN rn <= :k THEN 'missing' ELSE 'mismatched' END, id
FROM (SELECT id, row_number() OVER (ORDER BY md5(id::text)) AS rn FROM customers) s
WHERE rn <= 2 * :k;
INSERT INTO injected SELECT 'extra', m + i FROM (SELECT max(id) AS m FROM customers) x, generate_series(1, :k) i;
DELETE FROM customers WHERE id IN (SELECT id FROM injected WHERE kind = 'missing');
UPDATE customers SET email = 'changed-' || email WHERE id IN (SELECT id FROM injected WHERE kind = 'mismatched' AND id % 2 = 0);
UPDATE customers SET balance = balance + 1 WHERE id IN (SELECT id FROM injected WHERE kind = 'mismatched' AND id % 2 = 1);
INSERT INTO customers
SELECT id, 'name extra', 'extra' || id || '@example.com', 1.00, now(), '{}'::jsonb FROM injected WHERE kind = 'extra';
