-- Why: a yearly indicator holds one figure per calendar year, and a producer may number its
-- figures across all years: CadastreCoverageChanged (action 36) counts, for a year, the labelled
-- EPNs with a complete line in the funding cadastre, and its coverage_version numbers every
-- announcement whatever the year. With one order per indicator (indicators.set_order), 2025's
-- figure at version 9, read after 2026's at version 10, would be dropped as stale although it is
-- the only figure for 2025. Each measurement now keeps the order of the value it set, and a
-- yearly indicator's value is stale only against the orders of its own year (the highest
-- set_order of its measurements dated in that year); any other indicator still compares with
-- indicators.set_order, now the highest order applied. Measurements are append-only (0003):
-- the column is filled as each row is written, never afterwards; rows written before stay NULL
-- (no yearly indicator was set by events before this migration).
ALTER TABLE measurements ADD COLUMN set_order bigint;

-- Action 36 follows CadastreCoverageChanged.complete_epns (a36-epn-cadastre-complete, defined by
-- the seed); grants of the call kind epn-register no longer count for it. The seed, reloaded at
-- every start, says the same; this removes the old mapping from a database that holds it now,
-- whatever starts next. a36-epn-register itself stays, with its measurements and history
-- (indicators are never deleted): the seed marks it retired.
DELETE FROM indicator_mappings WHERE event_type = 'GrantAwarded' AND indicator_code = 'a36-epn-register';
