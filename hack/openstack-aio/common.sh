# Shared settings for start.sh / stop.sh.  Everything binds 127.0.0.1, ports 46xxx.
B=/tmp/osaio
V=$B/venv
S=$B/state            # wiped on every start.sh
E=$S/etc
D=$S/data
L=$S/log
R=$S/run
IP=127.0.0.1
P_MYSQL=46306
P_AMQP=46672
P_ERLDIST=46673
P_EPMD=46369
P_KEYSTONE=46500
P_PLACEMENT=46778
P_GLANCE=46292
P_NOVA=46774
P_NEUTRON=46696
DBPASS=osaio
SVCPASS=osaio
ADMIN_PASS=admin
MYSQL_URL="mysql+pymysql://os:$DBPASS@$IP:$P_MYSQL"
TRANSPORT="rabbit://guest:guest@$IP:$P_AMQP/"
KS="http://$IP:$P_KEYSTONE"
export ERL_EPMD_PORT=$P_EPMD
ts() { date +%s.%N; }
