from __future__ import annotations

import base64
import os
import re
import stat
import tempfile

import pytest
import yaml
from ansible_collections.scalelab.capi.plugins.module_utils.kube import client as kube
from ansible_collections.scalelab.capi.plugins.module_utils.kube.client import KubeClient, KubeError

SERVER = "https://10.0.0.1:6443"


@pytest.fixture
def tmpdir_for_clients(tmp_path, monkeypatch):
    """Make tempfile.mkdtemp() create the client's private directory under tmp_path, to see it come and go."""
    d = tmp_path / "tmp"
    d.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    return d


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def kubeconfig(path, cluster=None, user=None, current="lab", context=None, extra_contexts=()):
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": current,
        "contexts": [
            {"name": "lab", "context": context or {"cluster": "k", "user": "u"}},
            *extra_contexts,
        ],
        "clusters": [{"name": "k", "cluster": {"server": SERVER} if cluster is None else cluster}],
        "users": [{"name": "u", "user": user or {}}],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def test_inline_credentials_go_to_a_private_dir_removed_by_close(tmp_path, tmpdir_for_clients):
    path = kubeconfig(
        tmp_path / "kc" / "config",
        cluster={"server": SERVER, "certificate-authority-data": b64(b"CA PEM")},
        user={"client-certificate-data": b64(b"CERT PEM"), "client-key-data": b64(b"KEY PEM")},
    )
    client = KubeClient(path)
    (private,) = tmpdir_for_clients.iterdir()
    assert private.name.startswith("scalelab-kube-")
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    assert client.verify == str(private / "ca.crt")
    assert client.cert == (str(private / "client.crt"), str(private / "client.key"))
    for name, content in (("ca.crt", b"CA PEM"), ("client.crt", b"CERT PEM"), ("client.key", b"KEY PEM")):
        assert (private / name).read_bytes() == content
        assert stat.S_IMODE((private / name).stat().st_mode) == 0o600
    assert client.server == SERVER
    assert client.headers == {"Accept": "application/json"}
    client.close()
    assert list(tmpdir_for_clients.iterdir()) == []
    client.close()  # twice is fine


def test_context_manager_closes(tmp_path, tmpdir_for_clients):
    path = kubeconfig(tmp_path / "config", user={"client-key-data": b64(b"K"), "client-certificate-data": b64(b"C")})
    with KubeClient(path) as client:
        assert os.path.isfile(client.cert[1])
    assert list(tmpdir_for_clients.iterdir()) == []


def test_inline_data_wins_over_a_path(tmp_path, tmpdir_for_clients):
    path = kubeconfig(
        tmp_path / "config",
        cluster={"server": SERVER, "certificate-authority": "ca.crt", "certificate-authority-data": b64(b"X")},
    )
    with KubeClient(path) as client:
        assert client.verify == str(next(tmpdir_for_clients.iterdir()) / "ca.crt")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("pki/ca.crt", "{base}/pki/ca.crt"),
        ("ca.crt", "{base}/ca.crt"),
        ("../shared/ca.crt", "{base}/../shared/ca.crt"),
        ("/etc/kubernetes/pki/ca.crt", "/etc/kubernetes/pki/ca.crt"),
        ("~/pki/ca.crt", "{home}/pki/ca.crt"),
    ],
)
def test_file_paths_resolve_against_the_kubeconfig_dir(tmp_path, tmpdir_for_clients, monkeypatch, given, expected):
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    base = tmp_path / "kc"
    path = kubeconfig(
        base / "config",
        cluster={"server": SERVER, "certificate-authority": given},
        user={"client-certificate": given.replace("ca", "client"), "client-key": given.replace("ca.crt", "key.pem")},
    )
    monkeypatch.chdir(tmp_path)  # the working directory does not matter
    with KubeClient(os.path.relpath(path)) as client:
        want = expected.format(base=base, home=home)
        assert client.verify == want
        assert client.cert == (
            want.replace("ca.crt", "client.crt"),
            want.replace("ca.crt", "key.pem"),
        )
        # nothing was written for paths
        assert list(next(tmpdir_for_clients.iterdir()).iterdir()) == []


@pytest.mark.parametrize(
    ("cluster", "user", "verify", "cert"),
    [
        ({"server": SERVER}, {}, True, None),
        ({"server": SERVER, "insecure-skip-tls-verify": True}, {}, False, None),
        ({"server": SERVER, "insecure-skip-tls-verify": True, "certificate-authority": "/ca"}, {}, False, None),
        ({"server": SERVER, "insecure-skip-tls-verify": False, "certificate-authority": "/ca"}, {}, "/ca", None),
        ({"server": SERVER}, {"client-certificate": "/c"}, True, None),  # a certificate without a key is not used
        ({"server": SERVER}, {"client-key": "/k"}, True, None),
        ({"server": SERVER}, {"client-certificate": "/c", "client-key": "/k"}, True, ("/c", "/k")),
        ({"server": SERVER, "certificate-authority-data": ""}, {}, True, None),  # empty data: as absent
    ],
)
def test_tls_settings(tmp_path, tmpdir_for_clients, cluster, user, verify, cert):
    with KubeClient(kubeconfig(tmp_path / "config", cluster=cluster, user=user)) as client:
        assert client.verify == verify
        assert client.cert == cert


@pytest.mark.parametrize(
    ("user", "headers"),
    [
        ({"token": "abc.def"}, {"Accept": "application/json", "Authorization": "Bearer abc.def"}),
        ({"token": ""}, {"Accept": "application/json"}),
        ({}, {"Accept": "application/json"}),
    ],
)
def test_token_sets_authorization(tmp_path, tmpdir_for_clients, user, headers):
    with KubeClient(kubeconfig(tmp_path / "config", user=user)) as client:
        assert client.headers == headers
        assert client.cert is None


def test_context_without_user_has_no_credentials(tmp_path, tmpdir_for_clients):
    path = kubeconfig(tmp_path / "config", context={"cluster": "k", "user": "nobody"})
    with KubeClient(path) as client:
        assert client.headers == {"Accept": "application/json"}
        assert (client.verify, client.cert) == (True, None)


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        ("https://10.0.0.1:6443", "https://10.0.0.1:6443"),
        ("https://10.0.0.1:6443/", "https://10.0.0.1:6443"),
        ("http://127.0.0.1:8080//", "http://127.0.0.1:8080"),
        ("https://lb.example/k8s/", "https://lb.example/k8s"),
    ],
)
def test_server_url(tmp_path, tmpdir_for_clients, server, expected):
    with KubeClient(kubeconfig(tmp_path / "config", cluster={"server": server})) as client:
        assert client.server == expected


def test_explicit_context_overrides_current(tmp_path, tmpdir_for_clients):
    path = kubeconfig(
        tmp_path / "config",
        current="missing",
        extra_contexts=[{"name": "other", "context": {"cluster": "k", "user": "u"}}],
        user={"token": "t"},
    )
    with KubeClient(path, context="other", timeout=5.0, pool=3) as client:
        assert client.headers["Authorization"] == "Bearer t"
        assert (client.timeout, client.pool) == (5.0, 3)


def _text(text):
    def write(path):
        path.parent.mkdir()
        path.write_text(text)

    return write


def _null_cluster(path):
    kubeconfig(path)
    path.write_text(path.read_text().replace("cluster:\n    server: https://10.0.0.1:6443", "cluster: null"))
    assert "cluster: null" in path.read_text()


@pytest.mark.parametrize(
    ("write", "context", "match"),
    [
        (lambda path: None, "", "{path}: no such file$"),
        (_text("current-context: lab\n: [\n"), "", "{path}: cannot read it: "),
        (_text("{}"), "", "{path}: no context named ''$"),
        (_text(""), "", "{path}: no context named ''$"),
        (kubeconfig, "nope", "{path}: no context named 'nope'$"),
        (lambda path: kubeconfig(path, current=""), "", "{path}: no context named ''$"),
        (
            lambda path: kubeconfig(path, context={"cluster": "elsewhere", "user": "u"}),
            "",
            "{path}: no cluster named 'elsewhere'$",
        ),
        (
            lambda path: kubeconfig(path, cluster={"certificate-authority-data": b64(b"CA")}),
            "",
            "{path}: cluster 'k' has no server URL$",
        ),
        (lambda path: kubeconfig(path, cluster={"server": ""}), "", "{path}: cluster 'k' has no server URL$"),
        (
            lambda path: kubeconfig(path, cluster={"server": "10.0.0.1:6443"}),
            "",
            "{path}: cluster 'k' has no server URL$",
        ),
        (_null_cluster, "", "{path}: cluster 'k' has no server URL$"),
    ],
)
def test_kubeconfig_errors_name_the_file(tmp_path, tmpdir_for_clients, write, context, match):
    path = tmp_path / "kc" / "config"
    write(path)
    with pytest.raises(KubeError, match="^kubeconfig=" + match.format(path=re.escape(str(path)))) as info:
        KubeClient(str(path), context=context)
    assert info.value.status is None
    assert list(tmpdir_for_clients.iterdir()) == []  # nothing left behind


def test_kubeconfig_that_is_a_directory(tmp_path, tmpdir_for_clients):
    with pytest.raises(KubeError, match=f"^kubeconfig={re.escape(str(tmp_path))}: no such file$"):
        KubeClient(str(tmp_path))


def test_bad_inline_data_is_a_kube_error(tmp_path, tmpdir_for_clients):
    path = kubeconfig(tmp_path / "config", cluster={"server": SERVER, "certificate-authority-data": "abc"})
    try:
        with pytest.raises(KubeError, match="not valid base64"):
            KubeClient(path)
        assert list(tmpdir_for_clients.iterdir()) == []
    finally:
        for d in tmpdir_for_clients.iterdir():  # clean up the leaked directory either way
            for f in d.iterdir():
                f.unlink()
            d.rmdir()


@pytest.mark.parametrize(
    ("api_version", "prefix"),
    [
        ("v1", "/api/v1"),
        ("apps/v1", "/apis/apps/v1"),
        ("cluster.x-k8s.io/v1beta2", "/apis/cluster.x-k8s.io/v1beta2"),
        ("cluster.x-k8s.io/v1beta1", "/apis/cluster.x-k8s.io/v1beta1"),
        ("apiextensions.k8s.io/v1", "/apis/apiextensions.k8s.io/v1"),
        ("v1beta1", "/apis/v1beta1"),  # only the core group's "v1" lives under /api
    ],
)
def test_api_prefix(api_version, prefix):
    assert kube._api_prefix(api_version) == prefix


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (None, ""),
        ({}, ""),
        ({"reason": "AlreadyExists", "code": 409}, "AlreadyExists"),
        ({"reason": None}, "None"),
    ],
)
def test_kube_error_reason(body, reason):
    err = KubeError("POST /x: HTTP 409: exists", status=409, body=body)
    assert str(err) == "POST /x: HTTP 409: exists"
    assert err.status == 409
    assert err.reason == reason


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({}, b"{}"),
        ({"a": 1, "b": [1, 2]}, b'{"a":1,"b":[1,2]}'),
        ({"name": "naïve"}, b'{"name":"na\\u00efve"}'),
    ],
)
def test_dumps_is_compact(obj, expected):
    assert kube.dumps(obj) == expected


@pytest.mark.parametrize("deadline", [0.5, 2.0])
def test_requests_without_a_policy_give_up_after_the_clients_retry_deadline(tmp_path, tmpdir_for_clients, deadline):
    """A refused port (nothing listens on a port we just closed) is retried until retry_deadline, not 120 s."""
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = kubeconfig(tmp_path / "config", cluster={"server": f"https://127.0.0.1:{port}"})
    with KubeClient(path, retry_deadline=deadline) as client:
        started = time.monotonic()
        with pytest.raises(OSError):
            client.served_versions("cluster.x-k8s.io")
        took = time.monotonic() - started
    assert deadline <= took < deadline + 15, took
