-- Why: ActivityReturnReminder is addressed to an EPN, and an EPN seldom has a mailbox of its own:
-- the organisation that runs it (its operator: a commune, a CPAS, a non-profit) usually has one.
-- Events never carry contacts, and the funding service's register is the master list of EPNs, so
-- this directory keeps, of each EPN the register announces (the consumer epn-directory:
-- EpnRegistered, EpnDetailsChanged, EpnLabelStatusChanged), who runs it and where it stands: the
-- reminders reach the partner of the EPN's code or of its operator's, and the Coordination sees
-- which EPNs no partner reaches yet (GET /epns). The register is its only writer: no source column.
CREATE TABLE epns (
    code          text PRIMARY KEY,
    name          text NOT NULL CHECK (btrim(name) <> ''),
    operator      text NOT NULL CHECK (btrim(operator) <> ''),
    commune       text,
    label_status  text NOT NULL CHECK (label_status IN ('candidate', 'labelled', 'suspended', 'withdrawn')),
    -- The register_version of the last label decision applied (NULL before the first): an older
    -- decision read late (a dead letter replayed) is stale, and a registration read again never
    -- takes the label back to its first status.
    label_version integer CHECK (label_version >= 1)
);
