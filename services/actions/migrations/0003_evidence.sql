-- Why: the evidence the annual report and the audit rely on must hold whatever path writes to
-- the database: an external id is unique per indicator (not across indicators, which silently
-- dropped another indicator's measurement), and the actions' history, measurements and
-- published annual reports are append-only (UPDATE, DELETE and TRUNCATE refused by triggers).
ALTER TABLE measurements DROP CONSTRAINT measurements_external_id_key;
ALTER TABLE measurements ADD CONSTRAINT measurements_external_id_per_indicator UNIQUE (indicator_code, external_id);

-- make_append_only: runtime migration 0007.
SELECT make_append_only('action_history');
SELECT make_append_only('measurements');
SELECT make_append_only('annual_reports');
SELECT make_append_only('annual_report_files');
