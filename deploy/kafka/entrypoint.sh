#!/bin/bash
# Entrypoint of localhost/passerelle-kafka: writes server.properties from the environment (see
# the Containerfile), formats the KRaft storage on first start, then runs the broker as PID 1.
#
# Secure only: the secrets directory (KAFKA_SECRETS_DIR, mounted read-only) holds what
# `python -m services.access pki --admin-password --mounted-at <dir>` made: the CA, the broker's
# key and certificate, the admin's password and security.properties (TLS everywhere, SCRAM for the
# clients, mutual TLS between brokers and to the controller, the ACL authorizer). The broker waits
# for it (a job of the same deployment writes it) and never starts without it.
set -euo pipefail

: "${KAFKA_NODE_ID:=1}"
: "${KAFKA_PORT:=9092}"
: "${KAFKA_CONTROLLER_PORT:=9093}"
: "${KAFKA_INTERNAL_PORT:=9094}"
: "${KAFKA_SECRETS_DIR:=/etc/kafka/secrets}"
: "${KAFKA_SECRETS_WAIT_S:=120}"
# 0.0.0.0 inside a container network; 127.0.0.1 when a test runs it on the host's network.
: "${KAFKA_BIND_HOST:=0.0.0.0}"
: "${KAFKA_ADVERTISED_HOST:=$(hostname)}"
: "${KAFKA_ADVERTISED_PORT:=${KAFKA_PORT}}"
# A fixed default (base64 of "PasserelleKafka1"): the same data volume always matches it.
: "${KAFKA_CLUSTER_ID:=UGFzc2VyZWxsZUthZmthMQ}"
: "${KAFKA_HEAP_OPTS:=-Xms256m -Xmx512m}"
: "${KAFKA_DATA_DIR:=/var/lib/kafka/data}"
CONF_DIR=/tmp/kafka
READY_FILE=/tmp/kafka.ready
CLASSPATH="/opt/kafka/libs/*"

rm -f "$READY_FILE"
mkdir -p "$CONF_DIR" "$KAFKA_DATA_DIR"

if [[ -n "${KAFKA_ADVERTISED_FILE:-}" ]]; then
  echo "kafka-entrypoint: waiting for ${KAFKA_ADVERTISED_FILE}"
  until [[ -s "$KAFKA_ADVERTISED_FILE" ]]; do sleep 0.1; done
  # shellcheck disable=SC1090
  source "$KAFKA_ADVERTISED_FILE"
fi

for i in $(seq "$KAFKA_SECRETS_WAIT_S"); do
  [[ -s "$KAFKA_SECRETS_DIR/security.properties" && -s "$KAFKA_SECRETS_DIR/admin.password" ]] && break
  ((i == 1)) && echo "kafka-entrypoint: waiting for the secrets in ${KAFKA_SECRETS_DIR} (python -m services.access pki)"
  ((i == KAFKA_SECRETS_WAIT_S)) && { echo "kafka-entrypoint: no secrets in ${KAFKA_SECRETS_DIR}: not starting" >&2; exit 1; }
  sleep 1
done

cat >"$CONF_DIR/server.properties" <<EOF
# Written by kafka-entrypoint at every start.
process.roles=broker,controller
node.id=${KAFKA_NODE_ID}
controller.quorum.bootstrap.servers=localhost:${KAFKA_CONTROLLER_PORT}
listeners=CLIENT://${KAFKA_BIND_HOST}:${KAFKA_PORT},INTERNAL://${KAFKA_BIND_HOST}:${KAFKA_INTERNAL_PORT},CONTROLLER://${KAFKA_BIND_HOST}:${KAFKA_CONTROLLER_PORT}
advertised.listeners=CLIENT://${KAFKA_ADVERTISED_HOST}:${KAFKA_ADVERTISED_PORT},INTERNAL://${KAFKA_ADVERTISED_HOST}:${KAFKA_INTERNAL_PORT},CONTROLLER://localhost:${KAFKA_CONTROLLER_PORT}
$(cat "$KAFKA_SECRETS_DIR/security.properties")
log.dirs=${KAFKA_DATA_DIR}
num.partitions=1
# One node: every internal topic has a single replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Topics are created explicitly (python -m services.runtime.topics), never by a typo.
auto.create.topics.enable=false
EOF

# KAFKA_CFG_LOG_RETENTION_MS=1000 -> log.retention.ms=1000 (later lines win).
for var in "${!KAFKA_CFG_@}"; do
  name="${var#KAFKA_CFG_}"
  name="${name,,}"
  printf '%s=%s\n' "${name//_/.}" "${!var}" >>"$CONF_DIR/server.properties"
done


if [[ ! -f "$KAFKA_DATA_DIR/meta.properties" ]]; then
  if [[ "$KAFKA_CLUSTER_ID" == random ]]; then
    KAFKA_CLUSTER_ID="$(java -cp "$CLASSPATH" kafka.tools.StorageTool random-uuid)"
  fi
  echo "kafka-entrypoint: formatting ${KAFKA_DATA_DIR} (cluster id ${KAFKA_CLUSTER_ID})"
  # The admin's SCRAM credential goes into the metadata log with the storage: the only login
  # that works from the first start (services.access then makes every other principal).
  java -cp "$CLASSPATH" -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.yaml \
    kafka.tools.StorageTool format --standalone -t "$KAFKA_CLUSTER_ID" -c "$CONF_DIR/server.properties" \
    --add-scram "SCRAM-SHA-512=[name=admin,password=$(head -n 1 "$KAFKA_SECRETS_DIR/admin.password")]"
fi

echo "kafka-entrypoint: advertising ${KAFKA_ADVERTISED_HOST}:${KAFKA_ADVERTISED_PORT}"
# The broker replaces this shell (PID 1 gets SIGTERM: controlled shutdown). Its output goes
# through sed, unbuffered, which copies the "started" line into READY_FILE (created empty at
# once): `test -s /tmp/kafka.ready` is a readiness check for those that cannot read the log.
# shellcheck disable=SC2086 # KAFKA_HEAP_OPTS is a list of JVM options
exec java ${KAFKA_HEAP_OPTS} -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
  -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.yaml \
  -cp "$CLASSPATH" kafka.Kafka "$CONF_DIR/server.properties" \
  > >(exec sed -u -e "\\|Kafka Server started|w ${READY_FILE}") 2>&1
