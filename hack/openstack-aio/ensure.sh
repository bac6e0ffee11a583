#!/usr/bin/env bash
# Make the all-in-one cloud run, from wherever this checkout is.  Idempotent:
#   1. Debian packages, only if mariadbd / rabbitmq-server (or curl, bc) are missing;
#   2. the service venv $OSAIO_VENV, only if $OSAIO_VENV/.complete is absent (built in
#      $OSAIO_VENV.tmp, renamed on success; .complete is written last);
#   3. start.sh: stops a previous cloud, starts a fresh, empty one.
# Then: OS_CLIENT_CONFIG_FILE=$OSAIO_STATE/clouds.yaml, cloud "osaio".
# Prints phase timings; on failure prints the log tail and exits non-zero.
# Locations: see common.sh (OSAIO_STATE, OSAIO_VENV, OSAIO_CACHE).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
T0=$(ts)
since() { awk -v a="$(ts)" -v b="$1" 'BEGIN{printf "%.1f", a-b}'; }   # bc may not be installed yet
phase() { printf '[osaio-ensure %6ss] %s\n' "$(since "$T0")" "$*"; }
fail() { echo "osaio ensure.sh: $1 FAILED; tail of $2:"; tail -40 "$2"; exit 1; }
mkdir -p "$S" "$OSAIO_CACHE"
LOG=$S/install.log

# one installer at a time per cache dir (released before start.sh, whose
# long-running children would otherwise inherit the lock)
exec 9>"$OSAIO_CACHE/.install.lock"
flock -w 3600 9 || { echo "osaio ensure.sh: timed out waiting for $OSAIO_CACHE/.install.lock"; exit 1; }

# ---------------------------------------------------------------- Debian packages
if [ -x /usr/sbin/mariadbd ] && [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] \
   && command -v curl >/dev/null && command -v bc >/dev/null; then
  phase "debian packages present"
else
  bash "$H/install.sh" debs > "$LOG" 2>&1 || fail "apt-get install" "$LOG"
  phase "debian packages installed"
fi

# ---------------------------------------------------------------- service venv
if [ -f "$V/.complete" ]; then
  phase "venv present: $V"
else
  t=$(ts)
  rm -rf "$V" "$V.tmp"          # a half-built or interrupted one is redone
  bash "$H/install.sh" venv "$V.tmp" > "$LOG" 2>&1 || fail "venv install" "$LOG"
  # pip wrote absolute shebangs (and activate/pyvenv.cfg paths) for $V.tmp: point them at $V
  "$V.tmp/bin/python" - "$V.tmp" "$V" >> "$LOG" 2>&1 <<'PY' || fail "venv relocation" "$LOG"
import os, sys
old, new = sys.argv[1], sys.argv[2]
paths = [os.path.join(old, 'pyvenv.cfg')] + [
    os.path.join(old, 'bin', f) for f in os.listdir(os.path.join(old, 'bin'))]
n = 0
for p in paths:
    if os.path.islink(p) or not os.path.isfile(p):
        continue
    with open(p, 'rb') as f:
        data = f.read()
    if old.encode() in data:
        data = data.replace(old.encode(), new.encode())
        # the activate scripts' prompt: (venv-KEY.tmp) -> (venv-KEY)
        data = data.replace(b'(%s)' % os.path.basename(old).encode(),
                            b'(%s)' % os.path.basename(new).encode())
        with open(p, 'wb') as f:
            f.write(data)
        n += 1
print('relocated', n, 'files from', old, 'to', new)
PY
  mv "$V.tmp" "$V"
  "$V/bin/python" - >> "$LOG" 2>&1 <<'PY' || fail "venv check" "$LOG"
from importlib.metadata import entry_points
import glance, keystone, neutron, nova, placement, pymysql, gunicorn, openstack  # noqa
eps = entry_points(group='neutron.ml2.mechanism_drivers')
assert 'osaio_noop' in [e.name for e in eps], 'osaio_noop entry point missing'
print('venv check ok')
PY
  "$V/bin/nova-manage" --version >> "$LOG" 2>&1 || fail "venv check (console scripts)" "$LOG"
  touch "$V/.complete"
  phase "venv installed in $(since "$t") s: $V"
fi
flock -u 9; exec 9>&-

# ---------------------------------------------------------------- start
bash "$H/start.sh" || { rc=$?; echo "osaio ensure.sh: start.sh FAILED (rc=$rc); logs in $L"; exit $rc; }
phase "ready: OS_CLIENT_CONFIG_FILE=$S/clouds.yaml (cloud osaio)"
