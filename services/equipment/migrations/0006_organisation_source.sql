-- Why: the funding service's EPN register is now the master list of EPNs, and equipment learns
-- them from its events (the consumer epn-register). Each organisation says where its row comes
-- from, so that the register's EPNs are changed by the register alone (PUT /organisations/{code}
-- refuses to change them: domain/organisations.py says why) and an operator tells a hand-typed
-- organisation from the register's: 'seed' (the first start's seed), 'http' (PUT
-- /organisations/{code}), 'register' (EpnRegistered, EpnDetailsChanged). The rows written before
-- this migration keep NULL: whether they were seeded or typed was not recorded, and guessing from
-- the seed file's codes would be wrong for a seeded row an operator changed since.
ALTER TABLE organisations ADD COLUMN source text CHECK (source IN ('seed', 'http', 'register'));

-- The register writes only EPNs; a row it keeps never becomes another kind (whatever path the
-- write takes), or the register's later changes would land on a school or a donor.
ALTER TABLE organisations ADD CONSTRAINT organisations_register_keeps_epns
    CHECK (source IS DISTINCT FROM 'register' OR kind = 'epn');
