#!/bin/bash
# One-time setup for start.sh: Debian packages + the venv (PyPI only).
# VENV=/path overrides the venv location (start.sh expects /tmp/osaio/venv).
# CONSTRAINTS=/tmp/osaio/requirements-freeze.txt pins every dependency to the
# set that was tested (set CONSTRAINTS= to resolve freshly).
set -euo pipefail
B=/tmp/osaio
VENV=${VENV:-$B/venv}
CONSTRAINTS=${CONSTRAINTS-$B/requirements-freeze.txt}
if ! command -v mariadbd >/dev/null || ! [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive nice -n 19 apt-get install -y -q --no-install-recommends \
    mariadb-server rabbitmq-server curl bc
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q -U pip wheel setuptools
C=(); [ -n "$CONSTRAINTS" ] && C=(-c "$CONSTRAINTS")
nice -n 19 "$VENV/bin/pip" install "${C[@]}" \
  keystone==30.0.0 openstack-placement==16.0.0 glance==33.0.0 nova==34.0.0 \
  neutron==29.0.0 PyMySQL gunicorn python-openstackclient openstacksdk
# agent-less ML2 mechanism driver (local, ~20 lines)
nice -n 19 "$VENV/bin/pip" install -q --no-deps --no-build-isolation --no-index "$B/osaio_mech"
