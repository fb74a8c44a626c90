"""The equipment service: decommissioned IT equipment, refurbished and redistributed."""
