"""Helpers to drive a real host lab through the collection's playbooks and to look at it from outside."""

from __future__ import annotations

import base64
import contextlib
import glob
import json
import os
import re
import signal
import subprocess
import time

import requests
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, ".venv", "bin")


# The Cluster API stack's supervisor programs (roles/capi_stack).
CAPI_MANAGERS = ("capi-core", "capi-bootstrap", "capi-control-plane", "capi-in-memory")

# Without the callbacks SCALELAB_TEST_LOG suggests (profile_tasks prints around the JSON document).
_JSON_ENV = {k: v for k, v in os.environ.items() if k != "ANSIBLE_CALLBACKS_ENABLED"}
_JSON_ENV.update(ANSIBLE_NOCOLOR="1", ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json")


def _module_result(module: str, rc: int, stdout: str, stderr: str) -> dict:
    # Action plugins that wait print progress lines before the JSON document.
    doc = stdout if stdout.startswith("{") else stdout[stdout.find("\n{") + 1 :]
    try:
        res = json.loads(doc)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError) as e:
        raise AssertionError(f"ansible {module}: no JSON: {stdout[-2000:]} {stderr[-2000:]}") from e
    res["rc"] = rc
    return res


def changed_tasks(stdout: str) -> list[str]:
    """The TASK headers of the default callback's output under which a host line says changed (with its item)."""
    changed, task = [], ""
    for line in stdout.splitlines():
        m = re.match(r"^TASK \[(.*)\]", line)
        if m:
            task = m.group(1)
        elif line.startswith("changed: "):
            changed.append(f"{task}: {line}")
    return changed


def said(res: dict, tail: int = 3000) -> str:
    """An assertion message for a playbook run: the tasks that changed, then the output's last characters."""
    return "changed: " + ("; ".join(res.get("changed", [])) or "none") + "\n" + res["stdout"][-tail:]


def _log_run(cmd: list[str], seconds: float, stdout: str) -> None:
    """With SCALELAB_TEST_LOG set, append each playbook run's duration and recap there (where CI time goes; with
    ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks the recap lists the slowest tasks)."""
    path = os.environ.get("SCALELAB_TEST_LOG")
    if not path:
        return
    tail = stdout[stdout.rfind("PLAY RECAP") :] if "PLAY RECAP" in stdout else stdout[-1500:]
    with open(path, "a") as f:
        f.write(f"\n### {time.strftime('%H:%M:%S')} {seconds:.1f}s {' '.join(cmd[1:])}\n{tail}\n")


class Lab:
    def __init__(self, name: str, tmp_dir: str, ports: dict[str, int], extra_vars: dict | None = None):
        self.name = name
        self.vars = {
            "management_cluster_name": name,
            **{f"management_cluster_{k}_port": v for k, v in ports.items()},
            **(extra_vars or {}),
        }
        self.vars_file = os.path.join(tmp_dir, f"{name}.json")
        self.dir = os.path.expanduser(f"~/.local/share/scalelab/{name}")
        self.ports = ports
        self.write_vars()

    def write_vars(self, **extra) -> None:
        with open(self.vars_file, "w") as f:
            json.dump({**self.vars, **extra}, f)

    def playbook(self, name: str, *args: str, check: bool = False) -> dict:
        """Run playbooks/<name>; return the recap counters of localhost and the output."""
        cmd = [os.path.join(BIN, "ansible-playbook"), f"playbooks/{name}", "-e", f"@{self.vars_file}", *args]
        if check:
            cmd.append("--check")
        started = time.monotonic()
        proc = subprocess.run(
            cmd, cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, ANSIBLE_NOCOLOR="1"), check=False
        )
        _log_run(cmd, time.monotonic() - started, proc.stdout)
        m = re.search(r"^localhost\s+:\s+(.*)$", proc.stdout, re.MULTILINE)
        recap = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))} if m else {}
        if proc.returncode != 0 and not recap.get("failed"):
            recap["failed"] = 1
        changed = changed_tasks(proc.stdout)
        return {"recap": recap, "stdout": proc.stdout, "stderr": proc.stderr, "rc": proc.returncode, "changed": changed}

    def module(self, module: str, check: bool = False, **args) -> dict:
        """Run scalelab.capi.<module> once on localhost (ad hoc, as a playbook task would) and return its result."""
        cmd = self.module_cmd(module, **args)
        if check:
            cmd.append("--check")
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=_JSON_ENV, check=False)
        _log_run(cmd[:4], time.monotonic() - started, "")
        return _module_result(module, proc.returncode, proc.stdout, proc.stderr)

    def module_start(self, module: str, **args) -> subprocess.Popen:
        """Start scalelab.capi.<module> in the background (its own session, to be signalled); see module_end."""
        return subprocess.Popen(
            self.module_cmd(module, **args),
            cwd=ROOT,
            env=_JSON_ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    @staticmethod
    def module_end(proc: subprocess.Popen, timeout: float = 600) -> dict:
        out, err = proc.communicate(timeout=timeout)
        return _module_result(" ".join(proc.args[3:4]), proc.returncode, out, err)

    def module_cmd(self, module: str, **args) -> list[str]:
        return [os.path.join(BIN, "ansible"), "localhost", "-m", f"scalelab.capi.{module}", "-a", json.dumps(args)]

    def objects(self, path: str, selector: str = "") -> list[dict]:
        params = {"labelSelector": selector} if selector else {}
        resp = self.request("GET", path, params=params)
        resp.raise_for_status()
        return resp.json()["items"]

    def delete_soon(self, names: list[str], deleting: list[str]) -> None:
        """Asks the API server to delete each set's Clusters and returns, each name appended to `deleting` first
        (conftest's fixture: cluster_bulk state=absent for each at the module's end, also after a failed DELETE here).
        Cluster API deletes them and what is under them meanwhile (13-48 s for a test's set, beside what runs next)."""
        assert not isinstance(names, str), names
        deleting.extend(names)
        for name in names:
            for cluster in self.objects("/apis/cluster.x-k8s.io/v1beta2/clusters", f"scalelab.io/set={name}"):
                md = cluster["metadata"]
                path = f"/apis/cluster.x-k8s.io/v1beta2/namespaces/{md['namespace']}/clusters/{md['name']}"
                assert self.request("DELETE", path).status_code in (200, 202, 404), path

    @property
    def kubeconfig(self) -> str:
        return os.path.join(self.dir, "admin.kubeconfig")

    @property
    def api(self) -> str:
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    def request(self, method: str, path: str, **kw) -> requests.Response:
        pki = os.path.join(self.dir, "pki")
        # verify= per request: this environment's REQUESTS_CA_BUNDLE would override a Session's verify.
        return requests.request(
            method,
            self.api + path,
            cert=(f"{pki}/admin.crt", f"{pki}/admin.key"),
            verify=f"{pki}/ca.crt",
            timeout=10,
            **kw,
        )

    def workload(self, namespace: str, cluster: str, tmp_path) -> tuple[str, dict]:
        """A workload cluster's API URL and requests arguments, from the kubeconfig secret Cluster API wrote."""
        secret = self.request("GET", f"/api/v1/namespaces/{namespace}/secrets/{cluster}-kubeconfig").json()
        cfg = yaml.safe_load(base64.b64decode(secret["data"]["value"]))
        c, u = cfg["clusters"][0]["cluster"], cfg["users"][0]["user"]
        files = {}
        for name, data in (
            ("ca", c["certificate-authority-data"]),
            ("crt", u["client-certificate-data"]),
            ("key", u["client-key-data"]),
        ):
            path = tmp_path / f"{self.name}-{cluster}.{name}"
            path.write_bytes(base64.b64decode(data))
            os.chmod(path, 0o600)
            files[name] = str(path)
        return c["server"], {"verify": files["ca"], "cert": (files["crt"], files["key"]), "timeout": 10}

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/readyz").status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(1)
        raise AssertionError(f"{self.api}/readyz not ok within {timeout}s")

    def supervisorctl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                os.path.join(self.dir, "venv", "bin", "supervisorctl"),
                "-c",
                os.path.join(self.dir, "supervisor", "supervisord.conf"),
                *args,
            ],
            capture_output=True,
            text=True,
            check=False,
        )

    def pid(self, program: str) -> int:
        out = self.supervisorctl("pid", program).stdout.strip()
        return int(out) if out.isdigit() else 0

    def left(self) -> list[str]:
        """The entries of the lab's directory ([] when it is gone): a teardown keeps only results/ (the runs)."""
        return sorted(os.listdir(self.dir)) if os.path.isdir(self.dir) else []

    def processes(self) -> list[int]:
        """Every live process whose command line mentions the lab directory."""
        pids = []
        for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
            try:
                with open(cmdline, "rb") as f:
                    # The directory or a path under it (arguments end in NUL): not .../itest17 for .../itest.
                    args, d = f.read(), self.dir.encode()
                    if d + b"/" in args or d + b"\0" in args or args.endswith(d):
                        pids.append(int(cmdline.split("/")[2]))
            except OSError:
                continue
        return [p for p in pids if p != os.getpid()]


@contextlib.contextmanager
def running_lab(name: str, tmp_dir: str, ports: dict[str, int], extra_vars: dict):
    """A real lab made by playbooks/scale.yml (after clearing one an interrupted run left), torn down after."""
    lab = Lab(name, tmp_dir, ports, extra_vars)
    if set(lab.left()) - {"results"}:  # an interrupted run's lab (a clean machine has none: ~20 s saved)
        lab.playbook("teardown.yml")
    # A run killed with its supervisord (a stopped session) can leave managers behind, orphaned: they hold the lab's
    # ports and the new ones exit "address already in use". The teardown's audit names them; here they go.
    for pid in lab.processes():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while lab.processes() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert lab.processes() == [], f"processes of {lab.dir} survived SIGKILL: {lab.processes()}"
    try:
        # A first converge that fails half way is torn down too: its processes would hold the ports of the next lab.
        first = lab.playbook("scale.yml")
        assert first["rc"] == 0, first["stdout"][-4000:] + first["stderr"][-2000:]
        lab.first_converge = first
        yield lab
    finally:  # also when the session is interrupted: no lab outlives it
        lab.playbook("teardown.yml")


def listening_sockets(pid: int | str = "self") -> dict[int, list[str]]:
    """inode -> ['addr:port'] for every listening TCP socket (IPv4 and IPv6) of pid's network namespace."""
    found: dict[int, list[str]] = {}
    for path, v6 in ((f"/proc/{pid}/net/tcp", False), (f"/proc/{pid}/net/tcp6", True)):
        try:
            with open(path) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] != "0A":  # LISTEN
                continue
            addr_hex, port_hex = cols[1].split(":")
            found.setdefault(int(cols[9]), []).append(f"{_addr(addr_hex, v6)}:{int(port_hex, 16)}")
    return found


def _addr(hexaddr: str, v6: bool) -> str:
    raw = bytes.fromhex(hexaddr)
    if not v6:
        return ".".join(str(b) for b in raw[::-1])
    words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
    full = b"".join(words)
    import ipaddress

    return str(ipaddress.IPv6Address(full))


def listeners_of(pid: int) -> list[str]:
    socks = listening_sockets(pid)  # the process may live in another network namespace (hack/netns-hosts)
    out = []
    for fd in glob.glob(f"/proc/{pid}/fd/*"):
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", target)
        if m and int(m.group(1)) in socks:
            out.extend(socks[int(m.group(1))])
    return out


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.split("/")[2]))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


# Where a lab keeps secrets on purpose: key files, kubeconfigs, PKI directories, etcd's data (Secrets live there).
_SECRET_STORES = ("pki", "etcd", "venv")


def key_material(root: str) -> dict[str, list[str]]:
    """Each private key file under root -> strings that would give it away: its longest PEM body line and a slice
    of the file in base64 (as a kubeconfig's client-key-data or a slurp would show it)."""
    import base64

    out: dict[str, list[str]] = {}
    for path in glob.glob(os.path.join(root, "**", "*.key"), recursive=True):
        if "/venv/" in path:
            continue
        with open(path, "rb") as f:
            pem = f.read()
        body = [line for line in pem.decode().splitlines() if line and not line.startswith("-----")]
        b64 = base64.b64encode(pem).decode()
        out[os.path.relpath(path, root)] = [max(body, key=len), b64[len(b64) // 2 : len(b64) // 2 + 48]]
    return out


def leaks(text: str, material: dict[str, list[str]], also: tuple[str, ...] = ()) -> list[str]:
    """What of material (or the literal strings `also`) text shows; a PEM private key header counts too."""
    found = [name for name, needles in material.items() if any(n in text for n in needles)]
    found += [a for a in also if a in text]
    if "PRIVATE KEY-----" in text:
        found.append("a PEM private key")
    return found


def written_files(root: str) -> list[str]:
    """Every file a lab writes outside the places that hold secrets on purpose (see _SECRET_STORES, *.key,
    *.kubeconfig): logs, results, reports, configuration, Prometheus' data, profiles."""
    out = []
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if x not in _SECRET_STORES]
        out += [os.path.join(d, f) for f in files if not f.endswith((".key", ".kubeconfig", ".sock"))]
    return out


def files_leaking(root: str, material: dict[str, list[str]], also: tuple[str, ...] = ()) -> dict[str, list[str]]:
    found = {}
    for path in written_files(root):
        try:
            with open(path, "rb") as f:
                text = f.read(64 * 2**20).decode(errors="replace")
        except OSError:
            continue
        hit = leaks(text, material, also)
        if hit:
            found[os.path.relpath(path, root)] = hit
    return found


def molecule_verify(scenario: str, lab: dict) -> None:
    """A Molecule scenario's verify (testinfra) on a lab made otherwise, the lab named by SCALELAB_VERIFY (JSON of the
    keys molecule/<scenario>/tests reads): CI converges no separate Molecule lab."""
    proc = subprocess.run(
        [os.path.join(BIN, "pytest"), "-p", "no:cacheprovider", "-q", "--hosts=local://", f"molecule/{scenario}/tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, SCALELAB_VERIFY=json.dumps(lab)),
        check=False,
    )
    print(proc.stdout[-3000:])
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
