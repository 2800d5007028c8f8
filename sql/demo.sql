-- demo.sql — the demo's municipal database: the "Ragioneria" (accounts)
-- indicators of conf/demo, as a management system would keep them in
-- PostgreSQL.  The same values as conf/demo/ragioneria.csv, so the demo
-- gives the same statuses whether that source reads the CSV export or
-- this table (see sql/README.md, "Trying it").
--
--   createdb traguardo_demo
--   psql -v ON_ERROR_STOP=1 -d traguardo_demo -f sql/demo.sql
--
-- Idempotent: running it again puts the values back as they are here.

BEGIN;

CREATE SCHEMA IF NOT EXISTS kpi;
COMMENT ON SCHEMA kpi IS 'demo: indicator values of the Comune di Borgo Fittizio';

CREATE TABLE IF NOT EXISTS kpi.valori (
  codice  text NOT NULL,          -- indicator id, as in the configuration
  periodo date NOT NULL,          -- first day of the month (or quarter)
  valore  numeric,                -- NULL: not available
  PRIMARY KEY (codice, periodo)
);
COMMENT ON TABLE kpi.valori IS 'demo: one row per indicator and period';

INSERT INTO kpi.valori (codice, periodo, valore) VALUES
  ('RAG-01', DATE '2025-01-01', 38.6),
  ('RAG-02', DATE '2025-01-01', 4.12),
  ('RAG-03', DATE '2025-01-01', 81.5),
  ('RAG-04', DATE '2025-01-01', 33229.28),
  ('RAG-01', DATE '2025-02-01', 38.3),
  ('RAG-03', DATE '2025-02-01', 88.0),
  ('RAG-04', DATE '2025-02-01', 35368.64),
  ('RAG-01', DATE '2025-03-01', 35.8),
  ('RAG-03', DATE '2025-03-01', 85.6),
  ('RAG-04', DATE '2025-03-01', 34065.78),
  ('RAG-01', DATE '2025-04-01', 34.1),
  ('RAG-02', DATE '2025-04-01', 1.35),
  ('RAG-03', DATE '2025-04-01', 86.4),
  ('RAG-04', DATE '2025-04-01', 35492.87),
  ('RAG-01', DATE '2025-05-01', 33.4),
  ('RAG-03', DATE '2025-05-01', 86.9),
  ('RAG-04', DATE '2025-05-01', 31679.19),
  ('RAG-01', DATE '2025-06-01', 33.2),
  ('RAG-03', DATE '2025-06-01', 87.8),
  ('RAG-04', DATE '2025-06-01', 40646.20),
  ('RAG-01', DATE '2025-07-01', 33.2),
  ('RAG-02', DATE '2025-07-01', -2.40),
  ('RAG-03', DATE '2025-07-01', 87.7),
  ('RAG-04', DATE '2025-07-01', 33241.81),
  ('RAG-01', DATE '2025-08-01', 33.7),
  ('RAG-03', DATE '2025-08-01', 86.5),
  ('RAG-04', DATE '2025-08-01', 26561.05),
  ('RAG-01', DATE '2025-09-01', 32.7),
  ('RAG-03', DATE '2025-09-01', 89.7),
  ('RAG-04', DATE '2025-09-01', 33662.58),
  ('RAG-01', DATE '2025-10-01', 32.5),
  ('RAG-02', DATE '2025-10-01', -3.85),
  ('RAG-03', DATE '2025-10-01', 87.8),
  ('RAG-04', DATE '2025-10-01', 31674.53),
  ('RAG-01', DATE '2025-11-01', 29.3),
  ('RAG-03', DATE '2025-11-01', 90.0),
  ('RAG-04', DATE '2025-11-01', 33696.59),
  ('RAG-01', DATE '2025-12-01', 31.9),
  ('RAG-03', DATE '2025-12-01', 88.4),
  ('RAG-04', DATE '2025-12-01', 44111.12),
  ('RAG-01', DATE '2026-01-01', 41.2),
  ('RAG-02', DATE '2026-01-01', -1.20),
  ('RAG-03', DATE '2026-01-01', 88.0),
  ('RAG-04', DATE '2026-01-01', 33492.00),
  ('RAG-01', DATE '2026-02-01', 39.6),
  ('RAG-03', DATE '2026-02-01', 90.2),
  ('RAG-04', DATE '2026-02-01', 29136.14),
  ('RAG-01', DATE '2026-03-01', 37.9),
  ('RAG-03', DATE '2026-03-01', 90.6),
  ('RAG-04', DATE '2026-03-01', 36869.93),
  ('RAG-01', DATE '2026-04-01', 35.0),
  ('RAG-02', DATE '2026-04-01', -4.33),
  ('RAG-03', DATE '2026-04-01', 90.9),
  ('RAG-04', DATE '2026-04-01', 36008.45),
  ('RAG-01', DATE '2026-05-01', 33.6),
  ('RAG-03', DATE '2026-05-01', 88.2),
  ('RAG-04', DATE '2026-05-01', 35942.01),
  ('RAG-01', DATE '2026-06-01', 32.4),
  ('RAG-03', DATE '2026-06-01', 90.1),
  ('RAG-04', DATE '2026-06-01', 48937.29),
  ('RAG-01', DATE '2026-07-01', 30.7),
  ('RAG-02', DATE '2026-07-01', -5.07),
  ('RAG-03', DATE '2026-07-01', 93.1),
  ('RAG-04', DATE '2026-07-01', 35550.77),
  ('RAG-01', DATE '2026-08-01', 30.3),
  ('RAG-03', DATE '2026-08-01', 90.6),
  ('RAG-04', DATE '2026-08-01', 28852.92),
  ('RAG-01', DATE '2026-09-01', 29.1),
  ('RAG-03', DATE '2026-09-01', 93.5),
  ('RAG-04', DATE '2026-09-01', 35435.67),
  ('RAG-01', DATE '2026-10-01', 27.6),
  ('RAG-03', DATE '2026-10-01', 93.1),
  ('RAG-04', DATE '2026-10-01', 38412.50)
ON CONFLICT (codice, periodo) DO UPDATE SET valore = EXCLUDED.valore;

COMMIT;
