-- Why: issue 10 (hostile input and access). The sanitisation rule on every path to a recipient
-- (custody transfers included) and for media not declared; one open handover per device, handed
-- over by its holder, and cancellable transfers and handovers; reads scoped per organisation; the
-- evidence (history, sanitisation records, certificates) append-only against TRUNCATE too; the
-- seed's community bodies and parliament no longer counted as regional public bodies (action 57).

-- A device declared without storage has its media unknown until a refurbisher inspects it: it
-- is "pending", not "wiped" (a screen has none by nature). Devices declared so before this
-- migration and still in the stock become pending; those already allocated or delivered keep
-- their state (they were handed on under the old rule) and can be inspected like any other.
ALTER TABLE devices ADD COLUMN media_known boolean NOT NULL DEFAULT true;
UPDATE devices d SET media_known = false, sanitisation = 'pending', version = version + 1, updated_at = now()
WHERE d.kind <> 'screen' AND d.allocation IN ('available', 'returned')
  AND NOT EXISTS (SELECT 1 FROM media m WHERE m.device_id = d.id);

-- Closing a transfer or a handover without its effect: who and when.
ALTER TABLE transfers ADD COLUMN cancelled_at timestamptz, ADD COLUMN cancelled_by jsonb;
ALTER TABLE handovers ADD COLUMN cancelled_at timestamptz, ADD COLUMN cancelled_by jsonb;

-- An allocated device is in at most one open handover: its allocation names it. Of the handovers
-- recorded before, an allocation takes only the latest open one of its device that goes to its
-- own request's recipient and was recorded since the allocation: an older handover (of an
-- allocation released since, to the same or another recipient) is stale and stays unlinked, so
-- acknowledging it delivers nothing.
ALTER TABLE allocations ADD COLUMN handover_id uuid REFERENCES handovers;
UPDATE allocations a SET handover_id = (
    SELECT h.id FROM handovers h JOIN requests r ON r.id = a.request_id
    WHERE h.acknowledged_at IS NULL AND a.device_id = ANY (h.device_ids)
      AND h.recipient = r.recipient AND h.created_at >= a.created_at
    ORDER BY h.created_at DESC, h.id LIMIT 1)
WHERE a.status = 'allocated';

-- Who hands a handover's devices over: their holder when it was recorded (whoever recorded it,
-- the Coordination included). Its acknowledgement is refused if a device left that holder since.
-- For an open handover recorded before: the organisation that recorded it, or for the
-- Coordination the devices' one holder (none if they have several: it must be recorded again).
-- Unknown (NULL) for those acknowledged or cancelled before.
ALTER TABLE handovers ADD COLUMN from_org text REFERENCES organisations;
UPDATE handovers h SET from_org = CASE
    WHEN h.recorded_by ->> 'role' <> 'coordination' THEN h.recorded_by ->> 'organisation'
    ELSE (SELECT min(d.custodian) FROM devices d WHERE d.id = ANY (h.device_ids) HAVING count(DISTINCT d.custodian) = 1)
END
WHERE h.acknowledged_at IS NULL;

-- The rule at allocation also refuses a device whose media are unknown.
CREATE OR REPLACE FUNCTION devices_sanitised_before_allocation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.allocation IN ('reserved', 'allocated', 'delivered') AND NOT NEW.media_known THEN
        RAISE EXCEPTION 'device % cannot be % while its storage media are unknown', NEW.id, NEW.allocation
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.allocation IN ('reserved', 'allocated', 'delivered') AND NEW.sanitisation NOT IN ('wiped', 'destroyed') THEN
        RAISE EXCEPTION 'device % cannot be % while its sanitisation is %', NEW.id, NEW.allocation, NEW.sanitisation
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

-- The rule on custody: a device goes into a recipient's custody (a handover, a transfer, any
-- other write) only once every medium has a passing record. The kinds are the contracts'
-- RECIPIENT_KINDS (passerelle_contracts.common): the repository suite's
-- test_the_database_and_the_contracts_agree_on_which_organisations_are_recipients fails if they differ.
CREATE FUNCTION devices_sanitised_before_recipient_custody() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM organisations o WHERE o.code = NEW.custodian AND o.kind IN (
            'secondary-school', 'homework-school', 'pupils-association', 'retirement-home', 'epn',
            'first-line-actor', 'cpas', 'non-profit'))
       AND (NEW.sanitisation NOT IN ('wiped', 'destroyed') OR NOT NEW.media_known) THEN
        RAISE EXCEPTION 'device % cannot go into the custody of % (a recipient) while its sanitisation is %',
            NEW.id, NEW.custodian,
            CASE WHEN NEW.media_known THEN NEW.sanitisation ELSE 'unknown (media not inspected)' END
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER devices_sanitised_before_recipient_custody BEFORE UPDATE OF custodian ON devices
    FOR EACH ROW WHEN (OLD.custodian IS DISTINCT FROM NEW.custodian)
    EXECUTE FUNCTION devices_sanitised_before_recipient_custody();

-- The evidence is append-only: no UPDATE, DELETE or TRUNCATE (a statement-level trigger: row
-- triggers do not see TRUNCATE, nor TRUNCATE … CASCADE from the devices).
-- device_history refuses UPDATE and DELETE since 0002; make_append_only is runtime migration 0007.
CREATE TRIGGER device_history_no_truncate BEFORE TRUNCATE ON device_history
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
SELECT make_append_only('sanitisations');
SELECT make_append_only('certificates');

-- Who reads a device: its donor, its holder now, and the receiving side of a transfer or a
-- handover still open (not those that held it before: the next recipient, a return's reason or a
-- later certificate are none of theirs). The queries say so once (sql/devices.py, ``VISIBLE``):
-- the open transfers' and handovers' devices are read once per query (a hashed semi-join), through
-- these partial indexes; the donor is the first column of devices' UNIQUE (donor, asset_tag) and the
-- holder has devices_by_custodian.
CREATE INDEX transfers_open_by_receiver ON transfers (to_org) WHERE status = 'proposed';
CREATE INDEX handovers_open_by_recipient ON handovers (recipient) WHERE acknowledged_at IS NULL AND cancelled_at IS NULL;

-- COCOF and the FWB are community bodies, the Parliament a parliament: their donations are not
-- the regional public bodies' of action 57 (a database seeded before this migration).
UPDATE organisations SET kind = 'community-body' WHERE code IN ('cocof', 'fwb') AND kind = 'regional-public-body';
UPDATE organisations SET kind = 'parliament' WHERE code = 'parlement-bruxellois' AND kind = 'regional-public-body';

-- A declared delivery now names a registered recipient: the seed's example pupils' association
-- (the one the local "try it" delivers to), added to a database seeded before it was.
INSERT INTO organisations (code, name, kind, commune)
SELECT 'asbl-devoirs-exemple', 'ASBL d''aide aux devoirs (exemple)', 'pupils-association', 'Anderlecht'
WHERE EXISTS (SELECT 1 FROM organisations WHERE code = 'ecole-secondaire-exemple')
ON CONFLICT (code) DO NOTHING;
