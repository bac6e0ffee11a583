"""Kubeconfigs as kubectl reads them: fallbacks, merged lists, token files, basic auth and a real exec plugin."""

from __future__ import annotations

import base64
import os
import stat
import sys

import pytest
import yaml
from ansible_collections.scalelab.capi.plugins.module_utils.kube import config
from ansible_collections.scalelab.capi.plugins.module_utils.kube.client import KubeClient, KubeError


def write(path, clusters=(), contexts=(), users=(), current=""):
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": current,
        "clusters": [{"name": n, "cluster": c} for n, c in clusters],
        "contexts": [{"name": n, "context": c} for n, c in contexts],
        "users": [{"name": n, "user": u} for n, u in users],
    }
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


@pytest.mark.parametrize(
    ("option", "environ", "expected"),
    [
        ("/given", {"K8S_AUTH_KUBECONFIG": "/k8s", "KUBECONFIG": "/kc"}, "/given"),
        ("", {"K8S_AUTH_KUBECONFIG": "/k8s", "KUBECONFIG": "/kc"}, "/k8s"),
        ("", {"K8S_AUTH_KUBECONFIG": "", "KUBECONFIG": "/a:/b"}, "/a:/b"),
        ("", {}, os.path.expanduser("~/.kube/config")),
    ],
)
def test_resolve(option, environ, expected):
    assert config.resolve(option, environ) == expected


def test_a_list_merges_first_wins_with_paths_relative_to_each_file(tmp_path):
    a = write(
        tmp_path / "a" / "config",
        clusters=[("k", {"server": "https://a:6443", "certificate-authority": "ca.crt"})],
        contexts=[("lab", {"cluster": "k", "user": "u"})],
        users=[("u", {"client-certificate": "u.crt", "client-key": "u.key"})],
        current="lab",
    )
    b = write(
        tmp_path / "b" / "config",
        clusters=[("k", {"server": "https://b:6443"}), ("other", {"server": "https://o:6443"})],
        contexts=[("lab", {"cluster": "other", "user": "u"}), ("o", {"cluster": "other", "user": "v"})],
        users=[("v", {"tokenFile": "token"})],
        current="o",
    )
    (tmp_path / "b" / "token").write_text("t0k\n")
    cfg = config.merged(f"{a}:{tmp_path / 'missing'}:{b}")
    assert cfg["current-context"] == "lab"  # the first file's
    assert [c["name"] for c in cfg["clusters"]] == ["k", "other"]
    assert cfg["clusters"][0]["cluster"] == {
        "server": "https://a:6443",
        "certificate-authority": str(tmp_path / "a" / "ca.crt"),
    }
    assert cfg["users"][0]["user"]["client-key"] == str(tmp_path / "a" / "u.key")
    with KubeClient(f"{a}:{b}", context="o") as client:
        assert client.server == "https://o:6443" and client.headers["Authorization"] == "Bearer t0k"


@pytest.mark.parametrize(
    ("user", "authorization", "error"),
    [
        ({"username": "admin", "password": "pw"}, "Basic " + base64.b64encode(b"admin:pw").decode(), None),
        ({"token": "t", "tokenFile": "nope"}, "Bearer t", None),  # kubectl: token wins
        (
            {"tokenFile": "nope"},
            None,
            "user 'u': tokenFile .*nope: No such file or directory|tokenFile .*nope: No such file",
        ),
    ],
)
def test_user_credentials(tmp_path, user, authorization, error):
    path = write(
        tmp_path / "config",
        clusters=[("k", {"server": "https://k:6443"})],
        contexts=[("lab", {"cluster": "k", "user": "u"})],
        users=[("u", user)],
        current="lab",
    )
    if error:
        with pytest.raises(KubeError, match="^kubeconfig=.*: " + error):
            KubeClient(path)
        return
    with KubeClient(path) as client:
        assert client.headers["Authorization"] == authorization


def test_no_file_at_all(tmp_path):
    with pytest.raises(KubeError, match="no such file$"):
        KubeClient(f"{tmp_path / 'a'}:{tmp_path / 'b'}")


PLUGIN = """#!{python}
import datetime, json, os, sys
calls = os.path.join(os.path.dirname(os.path.abspath(__file__)), "calls")
n = int(open(calls).read()) + 1 if os.path.exists(calls) else 1
open(calls, "w").write(str(n))
if os.environ.get("FAIL"):
    sys.stderr.write("no credentials for you\\n")
    sys.exit(3)
expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=float(os.environ["TTL"]))
print(json.dumps({{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": {{"token": "tok-%d" % n, "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}}}}))
"""


def _exec_config(tmp_path, ttl, fail=False):
    plugin = tmp_path / "bin" / "creds"
    plugin.parent.mkdir()
    plugin.write_text(PLUGIN.format(python=sys.executable))
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    env = [{"name": "TTL", "value": str(ttl)}] + ([{"name": "FAIL", "value": "1"}] if fail else [])
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": "bin/creds",
            "env": env,
            "interactiveMode": "Never",
        }
    }
    return write(
        tmp_path / "config",
        clusters=[("k", {"server": "https://k:6443"})],
        contexts=[("lab", {"cluster": "k", "user": "u"})],
        users=[("u", user)],
        current="lab",
    ), tmp_path / "bin" / "calls"


def test_an_exec_plugin_gives_the_token_and_is_run_again_before_it_expires(tmp_path):
    path, calls = _exec_config(tmp_path, ttl=30)  # within the refresh margin: every header asks again
    with KubeClient(path) as client:
        assert client.credentials.refreshes and "Authorization" not in client.headers
        assert client.credentials.header() == "Bearer tok-2"
        assert calls.read_text() == "2"


def test_an_exec_token_far_from_expiry_is_kept(tmp_path):
    path, calls = _exec_config(tmp_path, ttl=3600)
    with KubeClient(path) as client:
        assert [client.credentials.header() for _dummy in range(3)] == ["Bearer tok-1"] * 3
        assert calls.read_text() == "1"


def test_a_failing_exec_plugin_is_one_message(tmp_path):
    path, _dummy = _exec_config(tmp_path, ttl=3600, fail=True)
    with pytest.raises(
        KubeError, match=r"^kubeconfig=.*: user 'u': its exec or auth-provider plugin gave no credentials: .*"
    ):
        KubeClient(path)
