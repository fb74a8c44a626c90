-- Why: the funding service's EPN register is the master list of EPNs, and actions learns them
-- from its events (the consumer epn-register), so that an EPN leads or partners an action and
-- attends a meeting like any organisation of the plan. Each organisation says where its row comes
-- from: 'seed' (the plan's organisations, seed/plan.json, loaded again at every start) or
-- 'register' (EpnRegistered, EpnDetailsChanged). Until now the seed was the only writer of this
-- table, so every row already here is the seed's. The seed's reload leaves the register's rows
-- alone (sql/plan.py); the register writes only EPNs (domain.py says why).
ALTER TABLE organisations ADD COLUMN source text NOT NULL DEFAULT 'seed' CHECK (source IN ('seed', 'register'));
ALTER TABLE organisations ALTER COLUMN source DROP DEFAULT;  -- every writer says which it is

-- A row the register keeps never becomes another kind (whatever path the write takes), or the
-- register's later renames would land on a public body or the EPN network. The kind column stays
-- free text: 'epn' is one more kind beside the seed's (public-body, network, non-profit …).
ALTER TABLE organisations ADD CONSTRAINT organisations_register_keeps_epns
    CHECK (source <> 'register' OR kind = 'epn');
