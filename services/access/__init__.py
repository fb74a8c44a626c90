"""Who may read and write what on Passerelle's Kafka: certificates, principals, ACLs, partner kits."""
