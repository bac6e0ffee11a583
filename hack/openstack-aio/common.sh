# Shared settings for the osaio scripts (sourced).  Everything binds 127.0.0.1, ports 16xxx (below the ephemeral range: see tests/unit/test_fixed_ports.py).
# Locations (environment, with defaults):
#   OSAIO_STATE  runtime state: etc/ data/ log/ run/ clouds.yaml   (default /tmp/osaio)
#   OSAIO_VENV   the service venv    (default ~/.cache/scalelab/osaio/venv-<key>, <key> =
#                sha256(requirements-freeze.txt + install.sh)[:12], so new pins -> new venv)
#   OSAIO_CACHE  venvs + seed cache  (default ~/.cache/scalelab/osaio)
H=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)   # this directory (the scripts)
OSAIO_STATE=${OSAIO_STATE:-/tmp/osaio}
OSAIO_CACHE=${OSAIO_CACHE:-$HOME/.cache/scalelab/osaio}
VENV_KEY=$(cat "$H/requirements-freeze.txt" "$H/install.sh" | sha256sum | cut -c1-12)
OSAIO_VENV=${OSAIO_VENV:-$OSAIO_CACHE/venv-$VENV_KEY}
case $OSAIO_STATE in /*) ;; *) OSAIO_STATE=$PWD/$OSAIO_STATE;; esac   # absolute: the venv's
case $OSAIO_VENV in /*) ;; *) OSAIO_VENV=$PWD/$OSAIO_VENV;; esac      # shebangs, pid files
export OSAIO_STATE OSAIO_CACHE OSAIO_VENV
V=$OSAIO_VENV
S=$OSAIO_STATE        # start.sh wipes $E $D $L $R and clouds.yaml in it (nothing else)
E=$S/etc
D=$S/data
L=$S/log
R=$S/run
IP=127.0.0.1
P_MYSQL=16306
P_AMQP=16672
P_ERLDIST=16673
P_EPMD=16369
P_KEYSTONE=16500
P_PLACEMENT=16778
P_GLANCE=16292
P_NOVA=16774
P_NEUTRON=16696
ALL_PORTS="$P_MYSQL $P_AMQP $P_ERLDIST $P_EPMD $P_KEYSTONE $P_PLACEMENT $P_GLANCE $P_NOVA $P_NEUTRON"
DBPASS=osaio
SVCPASS=osaio
ADMIN_PASS=admin
MYSQL_URL="mysql+pymysql://os:$DBPASS@$IP:$P_MYSQL"
TRANSPORT="rabbit://guest:guest@$IP:$P_AMQP/"
KS="http://$IP:$P_KEYSTONE"
export ERL_EPMD_PORT=$P_EPMD
ts() { date +%s.%N; }
