"""Labs beyond one machine, on five hosts made here as network namespaces (hack/netns-hosts: a veth on a bridge and
an sshd each, reached over SSH like remote machines, each with private /root, /tmp and /var/tmp, so nothing written
on one host is seen on another or here): two management clusters run the metal3 scenario at once,
each with its apiserver on its own address, three farm hosts without a management cluster serve their clusters
(dealt round-robin: mgmt-1 <- farm-1, farm-3; mgmt-2 <- farm-2), and the two results are merged on the controller.

Its stage shares nothing with the single-host labs' (nothing here listens outside the namespaces, the in-memory
provider's fixed ports are per namespace): hack/test runs it (`pytest -m netns`) beside them; in one session it runs
between them (after test_teardown, before the lab17 stages)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import tempfile
import time
import warnings

import pytest
import requests
import yaml

from .lab import BIN, ROOT, Lab, listeners_of

pytestmark = [pytest.mark.stage("netns"), pytest.mark.netns]

NETNS = os.path.join(ROOT, "hack", "netns-hosts")
# Not under /tmp, /var/tmp or /root: those are private on each host (up.sh refuses them).
STATE = "/var/lib/scalelab-netns-test"
HOST_INDEX = {"mgmt-1": 1, "mgmt-2": 2, "farm-1": 3, "farm-2": 4, "farm-3": 5}
ADDR = {
    "mgmt-1": "10.77.0.11",
    "mgmt-2": "10.77.0.12",
    "farm-1": "10.77.0.13",
    "farm-2": "10.77.0.14",
    "farm-3": "10.77.0.15",
}
SERVES = {"mgmt-1": ["farm-1", "farm-3"], "mgmt-2": ["farm-2"]}
FARMS = ("farm-1", "farm-2", "farm-3")
SET, HOSTS_SET, NS = "nm3", "nm3h", "netns-m3"
VARS = {
    "binaries_stack": "capi-1.7",
    "scale_scenario": "metal3",
    "scale_clusters": 2,
    # Prometheus and friends on both management hosts would double the converge; lab17 covers them.
    "scale_observability": False,
    "scale_set_name": SET,
    "scale_hosts_set_name": HOSTS_SET,
    "scale_hosts_namespace": NS,
    "apiserver_farm_node_heartbeat": "5s",
    # Judged on each management cluster's results and on the merged ones (clusters_ready: 2 each, 4 merged).
    "scale_slo_gates": {"objects_failed": 0, "clusters_ready": 2},
}
CAPI = "/apis/cluster.x-k8s.io/v1beta1"
INFRA = "/apis/infrastructure.cluster.x-k8s.io/v1beta1"


def host_root(host: str) -> str:
    """The host's private /root, as this machine sees it (only the host itself sees it as /root)."""
    return os.path.join(STATE, f"h{HOST_INDEX[host]}", "fs", "root")


class Management(Lab):
    """A management cluster on a namespace host: its directory in the host's private /root, its API on its address."""

    def __init__(self, host: str, tmp_dir: str):
        super().__init__(f"netns-{host}", tmp_dir, {"apiserver": 6443})
        self.host = host
        self.dir = os.path.join(host_root(host), ".local", "share", "scalelab", self.name)

    def processes(self) -> list[int]:
        """Processes on the host naming the lab directory as the host sees it."""
        seen = f"/root/.local/share/scalelab/{self.name}/".encode()
        pids = []
        for pid in netns_pids(HOST_INDEX[self.host]):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if seen in f.read():
                        pids.append(pid)
            except OSError:
                continue
        return pids

    @property
    def api(self) -> str:
        return f"https://{ADDR[self.host]}:6443"


def farm_dir(host: str) -> str:
    return os.path.join(host_root(host), ".local", "share", "scalelab", f"farm-{host}")


def ssh(host: str, command: str) -> subprocess.CompletedProcess:
    key = os.path.join(STATE, "id_ed25519")
    opts = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
    return subprocess.run(
        ["ssh", "-i", key, *opts, f"root@{ADDR[host]}", command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def netns_pids(i: int) -> list[int]:
    out = subprocess.run(["ip", "netns", "pids", f"sl-h{i}"], capture_output=True, text=True, check=True).stdout
    return [int(p) for p in out.split()]


def comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


@pytest.fixture(scope="module")
def netns_lab(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("netns"))
    env = dict(os.environ, NETNS_STATE=STATE, NETNS_PYTHON=os.path.join(BIN, "python"))
    subprocess.run(["bash", os.path.join(NETNS, "down.sh")], env=env, check=True)  # an interrupted run's hosts
    up = subprocess.run(
        ["bash", os.path.join(NETNS, "up.sh"), "5", "2"], env=env, capture_output=True, text=True, check=False
    )
    # A converge that fails leaves no hosts behind (their sshd would hold the addresses for the next run).
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        inventory = os.path.join(env["NETNS_STATE"], "hosts.yml")
        merged = os.path.join(tmp, "merged")
        lab = Lab("netns", tmp, {}, {})
        # Only the scenario's vars: extra vars would override each host's management_cluster_name (its directory).
        lab.vars = {
            **VARS,
            "scale_merged_results_dir": merged,
            "scale_fetched_results_dir": os.path.join(tmp, "fetched"),
        }
        lab.write_vars()
        lab.inventory, lab.merged, lab.fetched = inventory, merged, os.path.join(tmp, "fetched")
        lab.mgmt = {h: Management(h, tmp) for h in SERVES}
        started = time.monotonic()
        lab.converge = lab.playbook("scale.yml", "-i", inventory)
        lab.converge_seconds = time.monotonic() - started
        assert lab.converge["rc"] == 0, lab.converge["stdout"][-5000:] + lab.converge["stderr"][-2000:]
        yield lab
    finally:
        subprocess.run(["bash", os.path.join(NETNS, "down.sh")], env=env, check=True)


def test_both_management_clusters_run_the_scenario_with_the_farms_dealt_to_them(netns_lab, tmp_path):
    for host, farms in SERVES.items():
        mgmt = netns_lab.mgmt[host]
        clusters = mgmt.objects(f"{CAPI}/namespaces/{NS}/clusters", f"scalelab.io/set={SET}")
        assert sorted(c["metadata"]["name"] for c in clusters) == [f"{SET}-0001", f"{SET}-0002"]
        for c in clusters:
            ready = {x["type"]: x["status"] for x in c["status"]["conditions"]}
            assert ready["Ready"] == "True", (host, c["status"])
        # cluster_bulk's endpoint_pool: cluster i on farm (i-1) % n of this management cluster's farms.
        m3c = sorted(mgmt.objects(f"{INFRA}/namespaces/{NS}/metal3clusters"), key=lambda m: m["metadata"]["name"])
        endpoints = [(m["metadata"]["name"], m["spec"]["controlPlaneEndpoint"]) for m in m3c]
        expected_hosts = [ADDR[farms[0]], ADDR[farms[1 % len(farms)]]]
        assert [e["host"] for _dummy, e in endpoints] == expected_hosts, (host, endpoints)
        for m in mgmt.objects(f"{CAPI}/namespaces/{NS}/machines"):
            cluster = m["metadata"]["labels"]["cluster.x-k8s.io/cluster-name"]
            url, kw = mgmt.workload(NS, cluster, tmp_path)
            assert url.split("//")[1].split(":")[0] in [ADDR[f] for f in farms]
            node = requests.get(f"{url}/api/v1/nodes/{m['status']['nodeRef']['name']}", **kw)
            assert node.status_code == 200, node.text
            assert node.json()["spec"]["providerID"] == m["spec"]["providerID"]
    assert netns_lab.converge_seconds > 0
    print(f"netns lab converge: {netns_lab.converge_seconds:.0f}s")


def test_each_farm_runs_on_its_own_host_in_its_own_supervisord(netns_lab):
    ours = os.readlink("/proc/self/ns/net")
    with open(os.path.expanduser("~/.cache/scalelab/bin/apiserver-farm/apiserver-farm"), "rb") as f:
        built = hashlib.sha256(f.read()).hexdigest()
    for i, farm in enumerate(FARMS, start=3):
        addr, d = ADDR[farm], farm_dir(farm)
        servers = requests.get(f"https://{addr}:9480/farm/servers", **monitoring_client(farm)).json()
        served_by = next(m for m, fs in SERVES.items() if farm in fs)
        assert servers and all(s["endpoint"].startswith(f"{addr}:") and s["listening"] for s in servers), servers
        assert all(s["nodes"] == 1 for s in servers), servers
        # The farm's own supervisord (no management cluster here: its program runs under it), the binary the
        # controller built, copied; its own kubeconfig (0600, its API on the management host's address).
        pid = next(p for p in netns_pids(i) if comm(p) == "apiserver-farm")
        with open(f"/proc/{pid}/stat") as f:
            parent = int(f.read().rsplit(")", 1)[1].split()[1])
        with open(f"/proc/{parent}/cmdline", "rb") as f:
            assert b"supervisord" in f.read()
        assert os.readlink(f"/proc/{pid}/ns/net") != ours
        with open(f"{d}/apiserver-farm", "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == built
        assert os.stat(f"{d}/management.kubeconfig").st_mode & 0o777 == 0o600
        with open(f"{d}/management.kubeconfig") as f:
            assert yaml.safe_load(f)["clusters"][0]["cluster"]["server"] == f"https://{ADDR[served_by]}:6443"
        addrs = listeners_of(pid)
        assert f"{addr}:30000" in addrs and f"{addr}:9480" in addrs and "127.0.0.1:9481" in addrs, addrs
        assert [a for a in addrs if not a.startswith((f"{addr}:", "127.0.0.1:"))] == [], addrs


_CLIENT_DIR = tempfile.mkdtemp(prefix="scalelab-netns-clients-")


def monitoring_client(farm: str) -> dict:
    """requests' TLS options of the monitoring identity (scalelab-monitoring, signed by the CA of the management
    cluster the farm serves), the one client the farm's metrics listener lets in off loopback."""
    served_by = next(m for m, fs in SERVES.items() if farm in fs)
    pki = os.path.join(host_root(served_by), ".local", "share", "scalelab", f"netns-{served_by}", "pki")
    out = os.path.join(_CLIENT_DIR, f"monitoring-{served_by}")
    if not os.path.exists(f"{out}.crt"):
        subprocess.run(
            ["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", f"{out}.key", "-subj", "/CN=scalelab-monitoring", "-out", f"{out}.csr"],
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(
            ["openssl", "x509", "-req", "-in", f"{out}.csr", "-CA", f"{pki}/ca.crt", "-CAkey", f"{pki}/ca.key",
             "-CAcreateserial", "-CAserial", f"{out}.srl", "-days", "1", "-out", f"{out}.crt",
             "-extfile", "/dev/stdin"],
            input=b"extendedKeyUsage=clientAuth\n", check=True, capture_output=True,
        )  # fmt: skip
    return {"verify": f"{pki}/ca.crt", "cert": (f"{out}.crt", f"{out}.key"), "timeout": 10}


def test_farm_metrics_off_loopback_let_in_only_the_monitoring_identity(netns_lab, tmp_path):
    for farm in FARMS:
        url = f"https://{ADDR[farm]}:9480"
        ok = monitoring_client(farm)
        for path in ("/metrics", "/farm/servers"):
            assert requests.get(url + path, **ok).status_code == 200, (farm, path)
            # No client certificate: refused in the handshake. Plain HTTP: not served.
            with pytest.raises(requests.exceptions.SSLError):
                requests.get(url + path, verify=ok["verify"], timeout=10)
            assert requests.get(f"http://{ADDR[farm]}:9480{path}", timeout=10).status_code == 400
        # Another identity of the same CA (the farm's own, from its kubeconfig): 403.
        with open(f"{farm_dir(farm)}/management.kubeconfig") as f:
            user = yaml.safe_load(f)["users"][0]["user"]
        crt, key = tmp_path / f"{farm}.crt", tmp_path / f"{farm}.key"
        crt.write_bytes(base64.b64decode(user["client-certificate-data"]))
        key.write_bytes(base64.b64decode(user["client-key-data"]))
        os.chmod(key, 0o600)
        res = requests.get(url + "/metrics", verify=ok["verify"], cert=(str(crt), str(key)), timeout=10)
        assert res.status_code == 403, (farm, res.status_code, res.text[:200])
        # The listener's key stays 0600 on the farm host.
        assert os.stat(f"{farm_dir(farm)}/metrics-tls/tls.key").st_mode & 0o777 == 0o600


# Answers no anonymous client may get from a listener off loopback.
ANONYMOUS_PATHS = ("/metrics", "/debug/pprof/", "/farm/servers", "/api/v1/secrets", "/api/v1/nodes")


def test_every_listener_off_loopback_refuses_anonymous_clients(netns_lab):
    """Every socket any process of the five hosts listens on outside loopback, asked for each of ANONYMOUS_PATHS
    over plain HTTP and over TLS without a client certificate: none answers 200 (a refused handshake, 400, 401, 403
    or 404 is a refusal)."""
    tried = {}
    for host, i in HOST_INDEX.items():
        for pid in netns_pids(i):
            if comm(pid) in ("sshd", ""):
                continue
            for addr in listeners_of(pid):
                ip, port = addr.rsplit(":", 1)
                if ip.startswith("127.") or ip == "::1":
                    continue
                # A listener on every address is reached on the host's own address.
                ip = ADDR[host] if ip in ("0.0.0.0", "::") else ip
                tried.setdefault(f"{host} {comm(pid)} {ip}:{port}", (ip, port))
    # The farms' metrics and fake API servers and the management clusters' API at least.
    assert len(tried) >= 2 * len(FARMS) + len(SERVES), tried
    served = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # verify=False: the anonymous client trusts nothing and presents nothing
        for name, (ip, port) in sorted(tried.items()):
            for url in (f"http://{ip}:{port}", f"https://{ip}:{port}"):
                for path in ANONYMOUS_PATHS:
                    try:
                        code = requests.get(url + path, verify=False, timeout=5).status_code  # noqa: S501
                    except requests.RequestException:
                        break  # refused: the handshake (no client certificate), or not this scheme
                    if code == 200:
                        served.setdefault(name, []).append(url + path)
    print(f"{len(tried)} listeners off loopback tried:", ", ".join(sorted(tried)))
    assert served == {}, served


def test_hosts_share_no_writable_directory(netns_lab):
    # Written on one host: unseen on the others and here.
    for path in ("/root/scalelab-probe", "/tmp/scalelab-probe", "/var/tmp/scalelab-probe"):
        assert ssh("farm-1", f"echo farm-1 > {path}").returncode == 0
        assert not os.path.exists(path)
        for other in ("mgmt-1", "farm-2"):
            assert ssh(other, f"test ! -e {path}").returncode == 0, (other, path)
        ssh("farm-1", f"rm -f {path}")
    # The lab directories live in each host's own /root: the management cluster's PKI is not on a farm host.
    assert ssh("farm-1", "test ! -e /root/.local/share/scalelab/netns-mgmt-1").returncode == 0
    assert ssh("mgmt-1", "test -d /root/.local/share/scalelab/netns-mgmt-1/pki").returncode == 0


def test_each_farm_has_its_own_least_privileged_identity(netns_lab, tmp_path):
    for farm in FARMS:
        served_by = next(m for m, fs in SERVES.items() if farm in fs)
        with open(f"{farm_dir(farm)}/management.kubeconfig") as f:
            cfg = yaml.safe_load(f)
        user = cfg["users"][0]["user"]
        # Self-contained (data inline, no paths of the management host), and not the admin's certificate.
        assert set(user) == {"client-certificate-data", "client-key-data"}, sorted(user)
        assert set(cfg["clusters"][0]["cluster"]) == {"server", "certificate-authority-data"}
        crt = base64.b64decode(user["client-certificate-data"])
        with open(os.path.join(netns_lab.mgmt[served_by].dir, "pki", "admin.crt"), "rb") as f:
            assert crt != f.read()
        subject = subprocess.run(
            ["openssl", "x509", "-noout", "-subject"], input=crt, capture_output=True, check=True
        ).stdout.decode()
        assert f"CN = scalelab:farm:{farm}" in subject and "system:masters" not in subject, subject
        files = {}
        for name, data in (
            ("ca", cfg["clusters"][0]["cluster"]["certificate-authority-data"]),
            ("crt", user["client-certificate-data"]),
            ("key", user["client-key-data"]),
        ):
            files[name] = tmp_path / f"{farm}.{name}"
            files[name].write_bytes(base64.b64decode(data))
            os.chmod(files[name], 0o600)
        kw = {"verify": str(files["ca"]), "cert": (str(files["crt"]), str(files["key"])), "timeout": 10}
        api = cfg["clusters"][0]["cluster"]["server"]
        # What it watches: allowed. Secrets elsewhere and any write: refused.
        assert requests.get(f"{api}{INFRA}/metal3machines", **kw).status_code == 200
        assert requests.get(f"{api}/api/v1/namespaces/kube-system/secrets", **kw).status_code == 403
        assert requests.get(f"{api}/api/v1/namespaces/{NS}/secrets", **kw).status_code == 403
        cluster = {"apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "Cluster", "metadata": {"name": "intruder"}}
        assert requests.post(f"{api}{CAPI}/namespaces/{NS}/clusters", json=cluster, **kw).status_code == 403
        # The CA Secrets of the clusters it serves, by name.
        assert requests.get(f"{api}/api/v1/namespaces/{NS}/secrets/{SET}-0001-ca", **kw).status_code == 200


def test_results_are_merged_over_both_management_clusters(netns_lab):
    with open(os.path.join(netns_lab.merged, f"{SET}.json")) as f:
        doc = json.load(f)
    assert doc["run"]["management_clusters"] == ["mgmt-1", "mgmt-2"]
    s = doc["summary"]
    assert (s["clusters"], s["clusters_ready"], s["hosts"], s["hosts_provisioned"]) == (4, 4, 4, 4)
    assert s["cluster_p50_seconds"] > 0
    assert doc["kinds"]["Metal3Machine"]["count"] == 4 and doc["kinds"]["Metal3Machine"]["ready"] == 4
    for host in SERVES:
        assert doc["sources"][host]["summary"]["clusters_ready"] == 2
        with open(os.path.join(netns_lab.merged, f"{SET}-{host}.json")) as f:
            own = json.load(f)
        assert own["run"]["farms"] == [{"host": ADDR[f], "port_min": 30000, "port_max": 30999} for f in SERVES[host]]
    # Percentiles over every cluster, not an average of the two: the merged max is the larger of the two.
    assert s["cluster_max_seconds"] == max(doc["sources"][h]["summary"]["cluster_max_seconds"] for h in SERVES)
    with open(os.path.join(netns_lab.merged, f"{SET}.md")) as f:
        md = f.read()
    assert md.startswith("# Scale results: mgmt-1, mgmt-2") and "| mgmt-2 | 2 | 2 |" in md
    assert "merged report of mgmt-1, mgmt-2" in netns_lab.converge["stdout"]
    # The merged results get the same report task as each management cluster's: HTML with the gates judged.
    with open(os.path.join(netns_lab.merged, f"{SET}-report", "report.html")) as f:
        html = f.read()
    assert "<h2>SLO gates: " in html and ">clusters_ready</td><td>4</td>" in html, html[:2000]


def test_each_management_hosts_run_is_fetched_to_the_controller(netns_lab):
    for host in SERVES:
        runs_dir = os.path.join(netns_lab.mgmt[host].dir, "results", SET)
        with open(os.path.join(runs_dir, "runs.jsonl")) as f:
            (run,) = [json.loads(line) for line in f]
        assert run["machine"]["cores"] >= 1 and run["collection"]["name"] == "scalelab.capi", run
        here = os.path.join(netns_lab.fetched, host, SET, run["id"])
        for name in (f"{SET}.json", f"{SET}.md", os.path.join(f"{SET}-report", "report.html")):
            with open(os.path.join(here, name), "rb") as a, open(os.path.join(runs_dir, run["id"], name), "rb") as b:
                assert a.read() == b.read(), (host, name)


def test_without_observability_the_results_hold_no_snapshot_and_nothing_of_it_runs(netns_lab):
    # (Molecule's default verify asserts the same of its own lab; CI runs that verify on the quick start's lab,
    # which has observability: this lab is CI's scale_observability=false run.)
    for host in SERVES:
        lab_dir = netns_lab.mgmt[host].dir
        with open(os.path.join(lab_dir, "results", SET, "latest", f"{SET}.json")) as f:
            doc = json.load(f)
        assert "prometheus" not in doc and "profiles" not in doc and doc["kinds"]["Cluster"]["ready"] == 2, host
        assert not os.path.exists(os.path.join(lab_dir, "observability")), host
        assert os.path.isfile(os.path.join(lab_dir, "results", SET, "latest", f"{SET}-report", "report.html")), host
        running = {comm(pid) for pid in netns_pids(HOST_INDEX[host])}
        assert not running & {"prometheus", "kube-state-metr", "node-exporter"}, (host, running)


def test_teardown_leaves_nothing_on_any_host(netns_lab):
    res = netns_lab.playbook("teardown.yml", "-i", netns_lab.inventory)
    assert res["rc"] == 0, res["stdout"][-4000:] + res["stderr"][-2000:]
    for mgmt in netns_lab.mgmt.values():
        # Each management host keeps its runs' results (management_cluster_keep), nothing else.
        assert mgmt.left() == ["results"] and mgmt.processes() == [], mgmt.left()
    for farm in FARMS:
        assert not os.path.exists(farm_dir(farm))
    # Only each host's sshd (and Ansible's persistent SSH session) is left in the namespaces.
    for i in range(1, 6):
        assert {comm(p) for p in netns_pids(i)} <= {"sshd", ""}, (i, [comm(p) for p in netns_pids(i)])
