from __future__ import annotations

import os
import subprocess
import sys

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.lab import audit

# Rows as the kernel writes them: local address, remote, state (0A = LISTEN, 01 = ESTABLISHED), ..., inode (col 10).
TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0CEB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0 100 0 0 10 0
   1: 00000000:4A38 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2222 1 0 100 0 0 10 0
   2: 0100007F:0CEB 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 3333 1 0 20 4 30 10 -1
"""
_ZERO6 = "0" * 32
_TAIL6 = "0A 00000000:00000000 00:00000000 00000000     0        0"
TCP6 = f"""  sl  local_address                         remote_address                        st tx_queue rx_queue
   0: {_ZERO6}:4E20 {_ZERO6}:0000 {_TAIL6} 4444 1 0 100 0 0 10 0
   1: {"0" * 24}01000000:1F90 {_ZERO6}:0000 {_TAIL6} 5555 1 0 100 0 0 10 0
"""


def test_listening_rows_only_with_their_addresses():
    assert audit.parse_proc_net(TCP, v6=False) == {1111: ["127.0.0.1:3307"], 2222: ["0.0.0.0:19000"]}
    assert audit.parse_proc_net(TCP6, v6=True) == {4444: [":::20000"], 5555: ["::1:8080"]}
    assert audit.parse_proc_net("header only\n", v6=False) == {}


@pytest.mark.parametrize(
    ("cmdline", "hit"),
    [
        (b"/bin/etcd\0--data-dir=/l/lab/etcd\0", True),  # a path under it
        (b"supervisord\0-c\0/l/lab\0", True),  # the directory as an argument
        (b"prog\0--dir=/l/lab", True),  # the directory at the very end
        (b"prog\0--out=/l/lab2/x\0", False),  # another lab whose name starts the same
        (b"prog\0/l/labs\0", False),
        (b"sleep\x0030\0", False),
    ],
)
def test_a_process_belongs_to_the_lab_only_when_it_names_the_directory(cmdline, hit):
    assert audit.mentions(cmdline, "/l/lab") is hit


def test_a_real_process_and_its_listening_port_are_found_and_nothing_after_it_ends(tmp_path):
    lab = tmp_path / "lab"
    lab.mkdir()
    code = (
        "import socket, sys, time; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen();"
        "print(s.getsockname()[1], flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, f"{lab}/marker"], stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        found = audit.audit({"dir": str(lab), "ports": [port], "sets": []})
        assert [p["pid"] for p in found["processes"]] == [proc.pid]
        assert found["processes"][0]["listening"] == [f"127.0.0.1:{port}"]
        assert found["ports"] == [f"127.0.0.1:{port}"] and found["paths"] == [str(lab)]
        assert found["leftovers"] == 3 and found["api"] == "not asked"
        assert audit.describe(found)[0].startswith(f"process {proc.pid}: ")
    finally:
        proc.kill()
        proc.wait()
    os.rmdir(lab)
    gone = audit.audit({"dir": str(lab), "ports": [port], "sets": [], "kubeconfig": str(lab / "admin.kubeconfig")})
    assert gone["leftovers"] == 0 and gone["api"] == "gone with the lab (no kubeconfig)"
    assert audit.describe(gone) == []


def test_an_unreachable_api_is_reported_not_raised(tmp_path):
    cfg = tmp_path / "k.kubeconfig"
    cfg.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
    )
    found = audit.audit({"dir": str(tmp_path / "none"), "ports": [], "sets": ["s"], "kubeconfig": str(cfg)})
    assert found["api"].startswith("unreachable: ") and found["objects"] == [] and found["leftovers"] == 0


def _listener(*args: str) -> tuple[subprocess.Popen, int]:
    code = (
        "import socket, time; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen();"
        "print(s.getsockname()[1], flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True)
    return proc, int(proc.stdout.readline())


def test_a_port_another_process_holds_is_a_collision_and_the_labs_own_is_not(tmp_path):
    lab = tmp_path / "lab"
    ours, our_port = _listener(f"{lab}/etcd")
    other, other_port = _listener(str(tmp_path / "lab2"))
    try:
        found = audit.foreign(str(lab), [our_port, other_port])
        assert found == [
            {
                "address": f"127.0.0.1:{other_port}",
                "port": other_port,
                "pid": other.pid,
                "cmdline": found[0]["cmdline"],
            }
        ]
        assert str(tmp_path / "lab2") in found[0]["cmdline"]
    finally:
        for p in (ours, other):
            p.kill()
            p.wait()
    assert audit.foreign(str(lab), [our_port, other_port]) == []


def test_a_child_of_a_lab_process_is_the_labs_even_when_its_arguments_do_not_say_so(tmp_path):
    """As a supervisord's programs: node_exporter's command line names only its flags."""
    lab = tmp_path / "lab"
    code = "import subprocess, sys; c = subprocess.Popen(['sleep', '30']); print(c.pid, flush=True); c.wait()"
    parent = subprocess.Popen([sys.executable, "-c", code, f"{lab}/supervisor"], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    try:
        found = {p["pid"]: p["cmdline"] for p in audit.processes(str(lab))}
        assert set(found) == {parent.pid, child} and found[child] == "sleep 30"
    finally:
        os.kill(child, 9)
        parent.wait()


@pytest.mark.parametrize(
    ("entries", "keep", "left"),
    [
        ([], [], ["."]),  # an empty directory is still the lab's
        (["results", "etcd", ".hidden"], [], ["."]),
        (["results"], ["results"], []),  # what a teardown keeps is not a leftover
        (["results", "etcd", ".hidden"], ["results"], [".hidden", "etcd"]),
        (["etcd"], ["results"], ["etcd"]),
        ([], ["results"], []),
    ],
)
def test_kept_entries_of_the_directory_are_not_leftovers(tmp_path, entries, keep, left):
    lab = tmp_path / "lab"
    lab.mkdir()
    for name in entries:
        (lab / name).mkdir()
    found = audit.audit({"dir": str(lab), "ports": [], "sets": [], "keep": keep})
    assert found["paths"] == [os.path.normpath(str(lab / name)) for name in left]
    assert found["leftovers"] == len(left)


def test_keep_says_nothing_of_a_directory_that_is_gone(tmp_path):
    assert audit.audit({"dir": str(tmp_path / "gone"), "ports": [], "sets": [], "keep": ["results"]})["paths"] == []


@pytest.mark.parametrize(
    ("names", "refused"),
    [
        (["results"], []),
        ([], []),
        ([".hidden", "results-2026"], []),
        (["results", "..", ".", "", "a/b", "/results", 3, None], ["..", ".", "", "a/b", "/results", 3, None]),
        ("results", ["results"]),  # not a list: refused whole
        ({"results": 1}, [{"results": 1}]),
        (None, [None]),
    ],
)
def test_only_plain_names_may_name_a_kept_entry(names, refused):
    assert audit.not_entry_names(names) == refused
