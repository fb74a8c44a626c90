"""The broker's side of Passerelle's security: what every broker's ``server.properties`` says about
TLS, authentication and authorization, whoever writes the rest (``tools.kafka`` for the local
broker, ``tools.kafka_cluster`` for the three-node cluster, the container image's entrypoint,
which reads the block this module writes beside the certificates).

Three listeners:

- ``CLIENT`` (SASL_SSL, SCRAM-SHA-512): every client, services, partners and tools alike. The
  SCRAM credentials live in the cluster's metadata log; the admin's is written when the storage
  is formatted (``format_arguments``), the others by ``python -m services.access``.
- ``INTERNAL`` (SSL, mutual): broker to broker (replication). The peer is known by its
  certificate, signed by the deployment's CA, subject ``CN=passerelle-kafka-broker``.
- ``CONTROLLER`` (SSL, mutual): to the KRaft controllers, the same way. SCRAM cannot serve here:
  a controller would need the metadata log it is still loading to check a password.

Kafka's ``StandardAuthorizer`` checks every request against the ACLs; nothing without an ACL is
allowed (``allow.everyone.if.no.acl.found=false``). The super users are ``admin`` and the brokers'
certificate principal.
"""

from __future__ import annotations

from .pki import BROKER_PRINCIPAL, Pki

ADMIN = "admin"
LISTENERS = ("CLIENT", "INTERNAL", "CONTROLLER")


def security_properties(pki: Pki) -> str:
    """The security block of ``server.properties`` (listeners and ports are the caller's)."""
    return f"""\
# --- security (services/access/broker.py) ---
listener.security.protocol.map=CLIENT:SASL_SSL,INTERNAL:SSL,CONTROLLER:SSL
inter.broker.listener.name=INTERNAL
controller.listener.names=CONTROLLER
# TLS on every listener: the broker's key and chain, the deployment's CA as the only trust anchor.
ssl.keystore.type=PEM
ssl.keystore.location={pki.broker_pem}
ssl.truststore.type=PEM
ssl.truststore.location={pki.ca_cert}
ssl.enabled.protocols=TLSv1.3,TLSv1.2
# Broker to broker and to the controllers: mutual TLS, the principal is the certificate's subject.
listener.name.internal.ssl.client.auth=required
listener.name.controller.ssl.client.auth=required
# Clients: SCRAM-SHA-512 over TLS.
listener.name.client.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.client.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
# Authorization: the ACLs, nothing without one.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:{ADMIN};{BROKER_PRINCIPAL}
allow.everyone.if.no.acl.found=false
"""


def format_arguments(admin_password: str) -> list[str]:
    """What ``kafka-storage format`` adds so that the admin can log in from the first start."""
    return ["--add-scram", f"SCRAM-SHA-512=[name={ADMIN},password={admin_password}]"]
