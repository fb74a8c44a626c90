-- Why: evidence is append-only in the database itself, whatever path writes (issue 10). One
-- function makes a table so for every service (UPDATE and DELETE by a row trigger, TRUNCATE by a
-- statement trigger: TRUNCATE fires no row trigger), instead of each migration writing the same
-- triggers again.
CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END $$;

CREATE FUNCTION make_append_only(target regclass) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    name text := (SELECT relname FROM pg_class WHERE oid = target);
BEGIN
    EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION refuse_change()',
                   name || '_append_only', target);
    EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION refuse_change()',
                   name || '_no_truncate', target);
END $$;
