#!/usr/bin/env bash
# Start an all-in-one OpenStack (keystone, placement, glance, nova w/ FakeDriver,
# neutron ML2 w/o agents) on 127.0.0.1:16xxx from scratch.  Idempotent: it
# stops whatever a previous run left, wipes the state ($OSAIO_STATE/{etc,data,log,run},
# clouds.yaml) and rebuilds everything.  Writes $OSAIO_STATE/clouds.yaml (cloud osaio).
# Requires the venv ($OSAIO_VENV) and the Debian mariadb-server and rabbitmq-server
# packages: ensure.sh installs what is missing and then runs this.  Prints phase
# timings; on failure prints the log tail, stops what it started (unless
# OSAIO_KEEP_ON_FAIL=1) and exits non-zero.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
T0=$(ts)
phase() { printf '[osaio %6.1fs] %s\n' "$(echo "$(ts) - $T0" | bc)" "$*"; }

[ -x "$V/bin/nova-manage" ] || { echo "no service venv at $V: run ensure.sh"; exit 1; }
bash "$H/stop.sh" || { echo "osaio start.sh: could not stop the previous cloud"; exit 1; }
rm -rf "$E" "$D" "$L" "$R" "$S/clouds.yaml"
trap 'rc=$?; if [ $rc != 0 ] && [ -z "${OSAIO_KEEP_ON_FAIL:-}" ]; then
  echo "osaio start.sh failed (rc=$rc); stopping what it started; logs in $L"; bash "$H/stop.sh"; fi' EXIT
mkdir -p "$E"/{keystone,placement,glance,nova,neutron/plugins/ml2,rabbitmq} \
         "$D"/{mysql,rabbit-home,rabbit-mnesia,glance/images,glance/staging,glance/tasks,nova/instances,neutron,locks} \
         "$D"/keystone/{fernet-keys,credential-keys} "$L" "$R"
chmod 700 "$D/rabbit-home"

# bg NAME CMD... : start CMD in its own session, log to $L/NAME.log, pid in $R/NAME.pid
bg() {
  local name=$1; shift
  setsid nice -n 19 "$@" >"$L/$name.log" 2>&1 < /dev/null &
  echo $! > "$R/$name.pid"
}
wait_port() {  # wait_port NAME PORT TIMEOUT
  local i
  for i in $(seq 1 $(( $3 * 5 ))); do
    if (exec 3<>/dev/tcp/$IP/$2) 2>/dev/null; then return 0; fi
    pid=$(cat "$R/$1.pid"); kill -0 -- -"$pid" 2>/dev/null || { echo "$1 died:"; tail -30 "$L/$1.log"; exit 1; }
    sleep 0.2
  done
  echo "timeout waiting for $1 on $2"; tail -30 "$L/$1.log"; exit 1
}
wait_http() {  # wait_http NAME URL TIMEOUT
  local i
  for i in $(seq 1 $(( $3 * 5 ))); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$2" || true)
    case $code in 2*|3*|401) return 0;; esac
    pid=$(cat "$R/$1.pid"); kill -0 -- -"$pid" 2>/dev/null || { echo "$1 died:"; tail -30 "$L/$1.log"; exit 1; }
    sleep 0.2
  done
  echo "timeout waiting for $1 at $2"; tail -30 "$L/$1.log"; exit 1
}

# ---------------------------------------------------------------- seed cache
# A full init (mariadb-install-db + all db syncs + keystone bootstrap/registration)
# takes ~50 s; its result is cached as a SQL dump keyed on the scripts and the
# venv's installed distributions.  OSAIO_NO_CACHE=1 forces the full path.
CACHE_KEY=$( { cat "$H/start.sh" "$H/common.sh" "$H/register.py"; ls "$V"/lib/python3*/site-packages | grep -i dist-info; } | sha256sum | cut -c1-16)
SEEDS="$OSAIO_CACHE/seed"
C="$SEEDS/$CACHE_KEY"
USE_CACHE=0
[ -z "${OSAIO_NO_CACHE:-}" ] && [ -f "$C/done" ] && USE_CACHE=1

# ---------------------------------------------------------------- mariadb
if [ $USE_CACHE = 1 ]; then
  cp -a "$C/mysql-pristine/." "$D/mysql/"
else
  mariadb-install-db --no-defaults --datadir="$D/mysql" --user=root \
    --auth-root-authentication-method=socket --skip-test-db >"$L/mysql-install.log" 2>&1
  # keep the two newest other seeds (other checkouts / venvs may share $OSAIO_CACHE), ~115 MB each
rm -rf "$C"; mkdir -p "$SEEDS"
# (no seed yet on a new machine: ls finds nothing, which must not end the script under pipefail)
{ ls -1dt "$SEEDS"/*/ 2>/dev/null || true; } | tail -n +3 | xargs -r rm -rf
mkdir -p "$C"; cp -a "$D/mysql" "$C/mysql-pristine"
fi
bg mysqld /usr/sbin/mariadbd --no-defaults --user=root --datadir="$D/mysql" \
  --socket="$R/mysql.sock" --pid-file="$D/mariadbd.pidfile" --port=$P_MYSQL \
  --bind-address=$IP --skip-name-resolve --skip-log-bin --max-connections=2000 \
  --innodb-buffer-pool-size=128M --innodb-flush-log-at-trx-commit=0 \
  --innodb-doublewrite=0 --innodb-log-file-size=64M --sync-binlog=0 \
  --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
  --log-error="$L/mysqld.err"

# ---------------------------------------------------------------- rabbitmq
cat > "$E/rabbitmq/rabbitmq.conf" <<EOF
listeners.tcp.default = $IP:$P_AMQP
loopback_users = none
log.console = true
log.file = false
EOF
echo '[].' > "$E/rabbitmq/enabled_plugins"
bg epmd epmd -address $IP -port $P_EPMD
# rabbit must find ours listening: else its erl starts an epmd daemon of its own, outside our
# process group, which stop.sh cannot see and which then holds the port
wait_port epmd $P_EPMD 10
( export HOME="$D/rabbit-home" RABBITMQ_NODENAME=osaio@localhost RABBITMQ_NODE_IP_ADDRESS=$IP \
    RABBITMQ_NODE_PORT=$P_AMQP RABBITMQ_DIST_PORT=$P_ERLDIST \
    RABBITMQ_CONF_ENV_FILE=/dev/null RABBITMQ_CONFIG_FILE="$E/rabbitmq/rabbitmq.conf" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$E/rabbitmq/enabled_plugins" \
    RABBITMQ_MNESIA_BASE="$D/rabbit-mnesia" RABBITMQ_LOG_BASE="$L" \
    RABBITMQ_PLUGINS_EXPAND_DIR="$D/rabbit-mnesia/plugins-expand" \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} -kernel inet_dist_listen_min $P_ERLDIST -kernel inet_dist_listen_max $P_ERLDIST"
  bg rabbitmq /usr/lib/rabbitmq/bin/rabbitmq-server )

wait_port mysqld $P_MYSQL 60
for i in $(seq 1 100); do mysqladmin -S "$R/mysql.sock" -uroot ping >/dev/null 2>&1 && break; sleep 0.2; done
mysqladmin -S "$R/mysql.sock" -uroot ping >/dev/null || { tail -20 "$L/mysqld.err"; exit 1; }
phase "mariadb up"
mysql -S "$R/mysql.sock" -uroot <<EOF
CREATE USER 'os'@'127.0.0.1' IDENTIFIED BY '$DBPASS';
CREATE USER 'os'@'localhost' IDENTIFIED BY '$DBPASS';
GRANT ALL PRIVILEGES ON *.* TO 'os'@'127.0.0.1';
GRANT ALL PRIVILEGES ON *.* TO 'os'@'localhost';
FLUSH PRIVILEGES;
EOF

# ---------------------------------------------------------------- config files
authtoken() {  # authtoken USER
cat <<EOF
[keystone_authtoken]
www_authenticate_uri = $KS
auth_url = $KS
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = $SVCPASS
service_token_roles_required = true
EOF
}
ksauth() {  # ksauth SECTION USER
cat <<EOF
[$1]
auth_url = $KS
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $2
password = $SVCPASS
region_name = RegionOne
EOF
}

cat > "$E/keystone/keystone.conf" <<EOF
[DEFAULT]
use_stderr = true
[database]
connection = $MYSQL_URL/keystone
[token]
provider = fernet
[fernet_tokens]
key_repository = $D/keystone/fernet-keys
[credential]
key_repository = $D/keystone/credential-keys
[cache]
# in-process cache: keystone runs as ONE process here, so it stays coherent;
# without it every token validation costs ~0.5-1.5 s of role-assignment SQL
enabled = true
backend = dogpile.cache.memory
[identity]
password_hash_rounds = 4
EOF

{ cat <<EOF
[DEFAULT]
use_stderr = true
[placement_database]
connection = $MYSQL_URL/placement
[api]
auth_strategy = keystone
EOF
authtoken placement; } > "$E/placement/placement.conf"

{ cat <<EOF
[DEFAULT]
use_stderr = true
enabled_backends = file:file
bind_host = $IP
bind_port = $P_GLANCE
workers = 1
image_size_cap = 1099511627776
worker_self_reference_url = http://$IP:$P_GLANCE
[glance_store]
default_backend = file
[file]
filesystem_store_datadir = $D/glance/images
[os_glance_staging_store]
filesystem_store_datadir = $D/glance/staging
[os_glance_tasks_store]
filesystem_store_datadir = $D/glance/tasks
[database]
connection = $MYSQL_URL/glance
[paste_deploy]
flavor = keystone
[oslo_concurrency]
lock_path = $D/locks
EOF
authtoken glance; } > "$E/glance/glance-api.conf"
cp "$V/etc/glance/glance-api-paste.ini" "$E/glance/"

{ cat <<EOF
[DEFAULT]
use_stderr = true
host = osaio-compute
my_ip = $IP
state_path = $D/nova
instances_path = $D/nova/instances
transport_url = $TRANSPORT
compute_driver = fake.FakeDriver
vif_plugging_is_fatal = false
vif_plugging_timeout = 0
heal_instance_info_cache_interval = -1
[api]
auth_strategy = keystone
[wsgi]
api_paste_config = $E/nova/api-paste.ini
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 5
[oslo_concurrency]
lock_path = $D/locks
[oslo_messaging_notifications]
driver = noop
[vnc]
enabled = false
[glance]
region_name = RegionOne
[cinder]
os_region_name = RegionOne
[oslo_policy]
enforce_new_defaults = true
enforce_scope = true
EOF
authtoken nova; ksauth placement placement; ksauth neutron neutron
ksauth service_user nova; echo "send_service_user_token = true"; } > "$E/nova/nova-cpu.conf"
# nova-compute must not see [database]/[api_database] (it would try direct DB access)
{ cat "$E/nova/nova-cpu.conf"; cat <<EOF
[api_database]
connection = $MYSQL_URL/nova_api
[database]
connection = $MYSQL_URL/nova
EOF
} > "$E/nova/nova.conf"
cp "$V/etc/nova/api-paste.ini" "$E/nova/"

{ cat <<EOF
[DEFAULT]
use_stderr = true
state_path = $D/neutron
core_plugin = ml2
service_plugins = router
auth_strategy = keystone
transport_url = $TRANSPORT
notify_nova_on_port_status_changes = true
notify_nova_on_port_data_changes = true
dhcp_agent_notification = false
allow_overlapping_ips = true
api_workers = 1
rpc_workers = 0
api_paste_config = $E/neutron/api-paste.ini
[database]
connection = $MYSQL_URL/neutron
[oslo_concurrency]
lock_path = $D/locks
[oslo_messaging_notifications]
driver = noop
[agent]
report_interval = 0
EOF
authtoken neutron; ksauth nova neutron; } > "$E/neutron/neutron.conf"
cat > "$E/neutron/plugins/ml2/ml2_conf.ini" <<EOF
[ml2]
type_drivers = flat,vxlan
tenant_network_types = vxlan
mechanism_drivers = osaio_noop
extension_drivers = port_security
[ml2_type_flat]
flat_networks = public
[ml2_type_vxlan]
vni_ranges = 1:10000
[securitygroup]
enable_security_group = true
EOF
cp "$V/etc/neutron/api-paste.ini" "$E/neutron/"

cat > "$S/clouds.yaml" <<EOF
clouds:
  osaio:
    auth:
      auth_url: $KS/v3
      username: admin
      password: $ADMIN_PASS
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: public
    identity_api_version: 3
EOF
phase "configs written"

export PATH="$V/bin:$PATH"
N="nice -n 19"
PY="$V/bin/python"
DBS="keystone placement glance nova_api nova nova_cell0 neutron"
if [ $USE_CACHE = 1 ]; then
  cat "$C/seed-1.sql" "$C/seed-2.sql" | mysql -S "$R/mysql.sock" -uroot
  cp -a "$C/fernet-keys" "$C/credential-keys" "$D/keystone/"
  phase "databases restored from cache $C"
else
for db in $DBS; do echo "CREATE DATABASE $db;"; done | mysql -S "$R/mysql.sock" -uroot
# ---------------------------------------------------------------- db sync (parallel)
(
  $N keystone-manage --config-file "$E/keystone/keystone.conf" db_sync
  $N keystone-manage --config-file "$E/keystone/keystone.conf" fernet_setup --keystone-user root --keystone-group root
  $N keystone-manage --config-file "$E/keystone/keystone.conf" credential_setup --keystone-user root --keystone-group root
  $N keystone-manage --config-file "$E/keystone/keystone.conf" bootstrap --bootstrap-password "$ADMIN_PASS" \
     --bootstrap-admin-url "$KS/v3" --bootstrap-internal-url "$KS/v3" --bootstrap-public-url "$KS/v3" \
     --bootstrap-region-id RegionOne
) > "$L/sync-keystone.log" 2>&1 & P1=$!
$N placement-manage --config-file "$E/placement/placement.conf" db sync > "$L/sync-placement.log" 2>&1 & P2=$!
$N glance-manage --config-file "$E/glance/glance-api.conf" db_sync > "$L/sync-glance.log" 2>&1 & P3=$!
(
  NM="$N nova-manage --config-file $E/nova/nova.conf"
  $NM api_db sync
  $NM cell_v2 map_cell0 --database_connection "$MYSQL_URL/nova_cell0"
  $NM cell_v2 create_cell --name cell1
  $NM db sync
) > "$L/sync-nova.log" 2>&1 & P4=$!
$N neutron-db-manage --config-file "$E/neutron/neutron.conf" --config-file "$E/neutron/plugins/ml2/ml2_conf.ini" \
   upgrade heads > "$L/sync-neutron.log" 2>&1 & P5=$!
fail=0
for p in keystone:$P1 placement:$P2 glance:$P3 nova:$P4 neutron:$P5; do
  wait ${p#*:} || { echo "db sync ${p%%:*} FAILED"; tail -20 "$L/sync-${p%%:*}.log"; fail=1; }
done
[ $fail = 0 ] || exit 1
phase "db sync done"
# dump now, before any service writes rows of its own (keystone is dumped after registration)
mysqldump -S "$R/mysql.sock" -uroot --databases ${DBS#keystone } > "$C/seed-1.sql"

fi

# ---------------------------------------------------------------- keystone + registration
bg keystone env OS_KEYSTONE_CONFIG_DIR="$E/keystone" $PY "$H/wsgi_serve.py" keystone $P_KEYSTONE keystone.wsgi.api:application 4
# the other APIs authenticate lazily, so they can boot (imports take ~20 s) while
# keystone is registered.  nova-conductor/-scheduler/-compute exit or stall if
# keystone/placement credentials do not work yet, so they start after that.
bg placement env OS_PLACEMENT_CONFIG_DIR="$E/placement" $PY "$H/wsgi_serve.py" placement $P_PLACEMENT placement.wsgi.api:application 4
bg glance env OS_GLANCE_CONFIG_DIR="$E/glance" $PY "$H/wsgi_serve.py" glance $P_GLANCE glance.wsgi.api:application 4
bg neutron env OS_NEUTRON_CONFIG_DIR="$E/neutron" $PY "$H/wsgi_serve.py" neutron $P_NEUTRON neutron.wsgi.api:application 4
bg nova-api env OS_NOVA_CONFIG_DIR="$E/nova" $PY "$H/wsgi_serve.py" nova-api $P_NOVA nova.wsgi.osapi_compute:application 4
wait_port rabbitmq $P_AMQP 120
phase "rabbitmq up"
wait_http keystone "$KS/v3" 120
phase "keystone up"
if [ $USE_CACHE = 0 ]; then
  OS_CLIENT_CONFIG_FILE="$S/clouds.yaml" $N $PY "$H/register.py" > "$L/register.log" 2>&1 || { tail -30 "$L/register.log"; exit 1; }
  phase "keystone users/services/endpoints registered"
  mysqldump -S "$R/mysql.sock" -uroot --single-transaction --databases keystone > "$C/seed-2.sql"
  cp -a "$D/keystone/fernet-keys" "$D/keystone/credential-keys" "$C/"
  touch "$C/done"
  phase "seed cache written to $C"
fi

# ---------------------------------------------------------------- other services
wait_http placement "http://$IP:$P_PLACEMENT/" 180
bg nova-conductor nova-conductor --config-file "$E/nova/nova.conf"
bg nova-scheduler nova-scheduler --config-file "$E/nova/nova.conf"
bg nova-compute nova-compute --config-file "$E/nova/nova-cpu.conf"
wait_http glance "http://$IP:$P_GLANCE/" 180
wait_http neutron "http://$IP:$P_NEUTRON/" 180
wait_http nova-api "http://$IP:$P_NOVA/" 180
phase "all APIs answering"

# ---------------------------------------------------------------- compute host, flavor, image
OS_CLIENT_CONFIG_FILE="$S/clouds.yaml" $N $PY "$H/post_start.py" "$E/nova/nova.conf" > "$L/post_start.log" 2>&1 || { tail -30 "$L/post_start.log"; exit 1; }
for n in mysqld rabbitmq keystone placement glance neutron nova-api nova-conductor nova-scheduler nova-compute; do
  kill -0 -- -"$(cat "$R/$n.pid")" 2>/dev/null || { echo "$n is not running:"; tail -30 "$L/$n.log"; exit 1; }
done
phase "compute registered, flavor + image created: READY (OS_CLIENT_CONFIG_FILE=$S/clouds.yaml, cloud osaio)"
