#!/bin/sh
# Read a topic from its beginning to its end with kcat, one event (JSON envelope) a line.
#   sh examples/kcat.sh <topic> [-G <group>]   (a group must start with the kit's prefix)
# Run from anywhere: kcat.conf names ca.crt relative to the kit's directory.
set -eu
cd "$(dirname "$0")/.."
topic="$1"
shift
if [ "${1:-}" = "-G" ]; then
  exec kcat -F kcat.conf -G "$2" -o beginning -e -f '%s\n' "$topic"
fi
exec kcat -F kcat.conf -C -t "$topic" -o beginning -e -f '%s\n'
