-- Why: the evidence the annual report and the audit rely on must hold whatever path writes to
-- the database: an external id is unique per indicator (not across indicators, which silently
-- dropped another indicator's measurement), and the actions' history, measurements and
-- published annual reports are append-only (UPDATE, DELETE and TRUNCATE refused by triggers).
ALTER TABLE measurements DROP CONSTRAINT measurements_external_id_key;
ALTER TABLE measurements ADD CONSTRAINT measurements_external_id_per_indicator UNIQUE (indicator_code, external_id);

CREATE FUNCTION actions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END $$;

-- Row-level triggers stop UPDATE and DELETE; TRUNCATE fires no row trigger, so a statement-level
-- one stops it.
CREATE TRIGGER action_history_append_only BEFORE UPDATE OR DELETE ON action_history
    FOR EACH ROW EXECUTE FUNCTION actions_append_only();
CREATE TRIGGER action_history_no_truncate BEFORE TRUNCATE ON action_history
    FOR EACH STATEMENT EXECUTE FUNCTION actions_append_only();

CREATE TRIGGER measurements_append_only BEFORE UPDATE OR DELETE ON measurements
    FOR EACH ROW EXECUTE FUNCTION actions_append_only();
CREATE TRIGGER measurements_no_truncate BEFORE TRUNCATE ON measurements
    FOR EACH STATEMENT EXECUTE FUNCTION actions_append_only();

CREATE TRIGGER annual_reports_append_only BEFORE UPDATE OR DELETE ON annual_reports
    FOR EACH ROW EXECUTE FUNCTION actions_append_only();
CREATE TRIGGER annual_reports_no_truncate BEFORE TRUNCATE ON annual_reports
    FOR EACH STATEMENT EXECUTE FUNCTION actions_append_only();

CREATE TRIGGER annual_report_files_append_only BEFORE UPDATE OR DELETE ON annual_report_files
    FOR EACH ROW EXECUTE FUNCTION actions_append_only();
CREATE TRIGGER annual_report_files_no_truncate BEFORE TRUNCATE ON annual_report_files
    FOR EACH STATEMENT EXECUTE FUNCTION actions_append_only();
