-- Why: an indicator can follow a figure another service keeps instead of adding events up. The
-- number of labelled EPNs (action 11) goes down when a label is suspended or withdrawn, which
-- counting EpnLabelled never shows; EpnLabelStatusChanged carries the number itself. A mapping
-- either adds its amount (mode 'add', as before) or sets the indicator to a payload field (mode
-- 'set'); a set mapping's order_field names the payload field that numbers the figures
-- (register_version), and indicators.set_order keeps the last order applied, so that a figure
-- read out of order (events are keyed per EPN) or replayed never moves the indicator back.
ALTER TABLE indicator_mappings
    ADD COLUMN mode        text NOT NULL DEFAULT 'add' CHECK (mode IN ('add', 'set')),
    ADD COLUMN order_field text,
    -- An added amount never goes stale: only a set mapping has an order.
    ADD CONSTRAINT indicator_mappings_order_only_when_set CHECK (order_field IS NULL OR mode = 'set');

ALTER TABLE indicators ADD COLUMN set_order bigint;

-- Action 11 follows EpnLabelStatusChanged.labelled_epns; EpnLabelled no longer counts (with both,
-- each label would count twice). The seed, reloaded at every start, says the same; this converts
-- a database that holds the old mapping now, whatever starts next. A fresh database has no
-- mapping yet (the seed loads it after the migrations).
WITH old AS (
    DELETE FROM indicator_mappings
     WHERE event_type = 'EpnLabelled' AND indicator_code = 'a11-epn-labelled'
    RETURNING indicator_code
)
INSERT INTO indicator_mappings (event_type, conditions, indicator_code, amount, mode, order_field)
SELECT DISTINCT 'EpnLabelStatusChanged', '{}'::jsonb, indicator_code, 'labelled_epns', 'set', 'register_version'
  FROM old;
