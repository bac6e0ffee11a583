"""The collection as a user installs it: the built tarball and its declared dependencies in a fresh venv with
ansible-core and requirements-runtime.txt only (no checkout, no ansible.cfg, no `ansible` package), running the
clusters scenario's modules against the lab. No Galaxy server is reachable here: the declared collections are taken
from the `ansible` package CI installs (requirements.txt), the one source of them on this machine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from .lab import BIN, ROOT

TOPOLOGY = {"class_name": "scalelab-in-memory", "version": "v1.35.4"}
SET = "itin"


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kw)
    assert proc.returncode == 0, f"{' '.join(cmd)}: rc={proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv bin, collections path): the tarball installed offline with only galaxy.yml's dependencies beside it."""
    tmp = tmp_path_factory.mktemp("install")
    _run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(tmp), ROOT], cwd=tmp)
    (tarball,) = tmp.glob("scalelab-capi-*.tar.gz")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    pip = [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
    _run([*pip, "-r", os.path.join(ROOT, "requirements-runtime.txt"), "-c", os.path.join(ROOT, "requirements.txt")])
    colls = tmp / "collections"
    with open(os.path.join(ROOT, "galaxy.yml")) as f:
        declared = yaml.safe_load(f)["dependencies"]
    shipped = os.path.join(os.path.dirname(BIN), "lib", f"python{sys.version_info[0]}.{sys.version_info[1]}")
    shipped = os.path.join(shipped, "site-packages", "ansible_collections")
    for name in declared:
        shutil.copytree(os.path.join(shipped, *name.split(".")), colls / "ansible_collections" / name.replace(".", "/"))
    env = _env(venv, colls)
    _run(
        [str(venv / "bin" / "ansible-galaxy"), "collection", "install", "--offline", "-p", str(colls), str(tarball)],
        cwd=tmp,
        env=env,
    )
    listed = _run([str(venv / "bin" / "ansible-galaxy"), "collection", "list", "--format", "json"], cwd=tmp, env=env)
    return venv / "bin", colls, tmp, json.loads(listed.stdout)


def _env(venv, colls) -> dict:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_") and k not in ("VIRTUAL_ENV", "PYTHONPATH")
    }
    return {
        **env,
        "ANSIBLE_COLLECTIONS_PATH": str(colls),
        "ANSIBLE_NOCOLOR": "1",
        "PATH": f"{venv / 'bin'}:{env['PATH']}",
    }


def test_only_the_declared_collections_are_there(installed):
    _dummy, colls, _dummy, listed = installed
    with open(os.path.join(ROOT, "galaxy.yml")) as f:
        declared = set(yaml.safe_load(f)["dependencies"])
    where = os.path.join(colls, "ansible_collections")
    assert set(listed[where]) == declared | {"scalelab.capi"}, listed
    # ansible-core's own (ansible._protomatter) is the only other collection it sees.
    assert {c for path, found in listed.items() if path != where for c in found} <= {"ansible._protomatter"}, listed


# A cloud cluster's kubeconfig (EKS, GKE, AKS) has no credentials of its own: an exec plugin prints them. This one
# prints the lab admin's client certificate and key, as `kubectl` would receive them.
PLUGIN = """#!{python}
import json, sys
import yaml
with open({admin!r}) as f:
    user = yaml.safe_load(f)["users"][0]["user"]
pairs = (("clientCertificateData", "client-certificate"), ("clientKeyData", "client-key"))
status = {{k: open(user[f]).read() for k, f in pairs}}
print(json.dumps({{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": status}}))
"""


EXEC = {"apiVersion": "client.authentication.k8s.io/v1", "command": "./creds", "interactiveMode": "Never"}


def _exec_kubeconfig(lab, tmp) -> str:
    """A kubeconfig with a context of its own (not the current one) whose user is an exec plugin."""
    with open(lab.kubeconfig) as f:
        admin = yaml.safe_load(f)
    plugin = tmp / "creds"
    plugin.write_text(PLUGIN.format(python=sys.executable, admin=lab.kubeconfig))
    plugin.chmod(0o700)
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": admin["clusters"],
        "users": [{"name": "cloud", "user": {"exec": EXEC}}],
        "contexts": [
            {"name": "elsewhere", "context": {"cluster": "nowhere", "user": "cloud"}},
            {"name": "lab-exec", "context": {"cluster": admin["clusters"][0]["name"], "user": "cloud"}},
        ],
        "current-context": "elsewhere",
    }
    path = tmp / "cloud.kubeconfig"
    path.write_text(yaml.safe_dump(cfg))
    path.chmod(0o600)
    return str(path)


PLAY = """
- name: The clusters scenario's modules from the installed collection
  hosts: localhost
  connection: local
  gather_facts: false
  # No kubeconfig option: K8S_AUTH_KUBECONFIG names it (as for kubernetes.core), an exec plugin gives the credentials.
  environment:
    K8S_AUTH_KUBECONFIG: "{{ exec_kubeconfig }}"
  module_defaults:
    group/scalelab.capi.kube:
      context: lab-exec
  tasks:
    - name: A preflight of a role (ansible.utils' tests, from the declared dependencies)
      ansible.builtin.include_role:
        name: scalelab.capi.capi_stack
        tasks_from: preflight.yml
      vars:
        capi_stack_kubeconfig: "{{ kubeconfig }}"
    - name: Create the set
      scalelab.capi.cluster_bulk:
        name: "{{ set_name }}"
        count: 2
        topology: "{{ topology }}"
    - name: Wait for it
      scalelab.capi.cluster_wait:
        name: "{{ set_name }}"
        count: 2
        machines: 2
        timeout: 600
    - name: Gather the results
      scalelab.capi.scale_results:
        kubeconfig: "{{ exec_kubeconfig }}"
        label_selector: "scalelab.io/set={{ set_name }}"
        path: "{{ out }}/{{ set_name }}.json"
    - name: The report (matplotlib from requirements-runtime.txt)
      scalelab.capi.scale_report:
        path: "{{ out }}/{{ set_name }}.json"
        output_dir: "{{ out }}/report"
  post_tasks:
    - name: Delete the set
      scalelab.capi.cluster_bulk:
        name: "{{ set_name }}"
        state: absent
        delete_timeout: 300
"""


def test_the_clusters_scenario_runs_from_the_installed_collection(lab, installed):
    bin_dir, colls, tmp, _dummy = installed
    play = tmp / "play.yml"
    play.write_text(PLAY)
    extra = {"kubeconfig": lab.kubeconfig, "set_name": SET, "topology": TOPOLOGY, "out": str(tmp / "out")}
    extra["exec_kubeconfig"] = _exec_kubeconfig(lab, tmp)
    proc = subprocess.run(
        [str(bin_dir / "ansible-playbook"), str(play), "-e", json.dumps(extra)],
        cwd=tmp,
        env=_env(bin_dir.parent, colls),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    with open(tmp / "out" / f"{SET}.json") as f:
        doc = json.load(f)
    assert doc["kinds"]["Cluster"]["ready"] == 2 and doc["kinds"]["Machine"]["ready"] == 2, doc["kinds"]
    assert os.path.isfile(tmp / "out" / "report" / "report.html")
    assert lab.objects("/apis/cluster.x-k8s.io/v1beta2/clusters", f"scalelab.io/set={SET}") == []


def test_ansible_builder_reads_the_runtime_requirements_from_the_installed_collection(installed):
    _dummy, colls, tmp, _dummy = installed
    out = _run([os.path.join(BIN, "ansible-builder"), "introspect", "--sanitize", str(colls)], cwd=tmp).stdout
    doc = yaml.safe_load(out[out.index("---") :])
    python = {line.split(">=")[0].lower() for line in doc["python"] if "from collection scalelab.capi" in line}
    with open(os.path.join(ROOT, "requirements-runtime.txt")) as f:
        wanted = {line.split(">=")[0].lower() for line in f if line.strip() and not line.startswith("#")}
    # ansible-builder leaves out what every execution environment has (ansible-core and its PyYAML).
    assert python == wanted - {"ansible-core", "pyyaml"}, out
    assert any(line.startswith("python3-venv") for line in doc["system"]), out
