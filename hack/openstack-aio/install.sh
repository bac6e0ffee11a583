#!/usr/bin/env bash
# Install steps, normally run by ensure.sh (which decides what is missing):
#   install.sh debs       apt-get install mariadb-server rabbitmq-server curl bc
#   install.sh venv DIR   create the service venv at DIR (PyPI only) and install
#                         the services plus the local ML2 driver into it.
# This file and requirements-freeze.txt make the venv key (common.sh): editing
# either makes ensure.sh build a new venv.
# CONSTRAINTS=<file> overrides the pins (default: requirements-freeze.txt next to
# this file, the set that was tested); CONSTRAINTS= resolves freshly.
set -euo pipefail
H=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
case ${1:-} in
debs)
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive nice -n 19 apt-get install -y -q --no-install-recommends \
    -o DPkg::Lock::Timeout=600 mariadb-server rabbitmq-server curl bc
  ;;
venv)
  VENV=${2:?usage: install.sh venv DIR}
  CONSTRAINTS=${CONSTRAINTS-$H/requirements-freeze.txt}
  python3 -m venv "$VENV"
  nice -n 19 "$VENV/bin/pip" install -q -U pip wheel setuptools
  C=(); [ -n "$CONSTRAINTS" ] && C=(-c "$CONSTRAINTS")
  nice -n 19 "$VENV/bin/pip" install "${C[@]}" \
    keystone==30.0.0 openstack-placement==16.0.0 glance==33.0.0 nova==34.0.0 \
    neutron==29.0.0 PyMySQL gunicorn python-openstackclient openstacksdk
  # agent-less ML2 mechanism driver (local, ~20 lines); built from a copy so that
  # no build/ or *.egg-info lands in the checkout
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  cp -r "$H/osaio_mech" "$tmp/"
  nice -n 19 "$VENV/bin/pip" install -q --no-deps --no-build-isolation --no-index "$tmp/osaio_mech"
  ;;
*) echo "usage: install.sh debs | venv DIR" >&2; exit 2;;
esac
