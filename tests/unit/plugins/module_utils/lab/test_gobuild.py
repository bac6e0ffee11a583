from __future__ import annotations

import json
import os
import subprocess

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.lab import gobuild


# A Go version as `go version` prints it (parse_go_version) and as go.mod requires it (required_go).
@pytest.mark.parametrize(
    ("parse", "text", "expected"),
    [
        (gobuild.parse_go_version, "go1.26.8", (1, 26, 8)),
        (gobuild.parse_go_version, "go1.25", (1, 25, 0)),
        (gobuild.parse_go_version, "go1.25.0 X:nocoverageredesign", (1, 25, 0)),
        (gobuild.parse_go_version, "go2", (2, 0, 0)),
        (gobuild.required_go, "module x\n\ngo 1.25.0\n\nrequire a v1\n", (1, 25, 0)),
        (gobuild.required_go, "module x\ngo 1.22\n", (1, 22, 0)),
        (gobuild.required_go, "module x\n// go 1.99 in a comment is not a directive\n", (1, 0, 0)),
        (gobuild.required_go, "module x\ntoolchain go1.26.1\ngo 1.24.3\n", (1, 24, 3)),
    ],
)
def test_go_version(parse, text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize("text", ["", "devel", "1.26"])
def test_parse_go_version_rejects(text):
    with pytest.raises(gobuild.GoBuildError, match="cannot parse"):
        gobuild.parse_go_version(text)


@pytest.mark.parametrize(
    ("tags", "ldflags", "mod", "expected_tail"),
    [
        ([], [], "readonly", ["-mod=readonly", "-trimpath", "-o", "out", "pkg"]),
        (
            ["a", "b"],
            ["-s -w", "-X v=1"],
            "mod",
            ["-mod=mod", "-trimpath", "-o", "out", "-tags", "a,b", "-ldflags", "-s -w -X v=1", "pkg"],
        ),
    ],
)
def test_build_command(tags, ldflags, mod, expected_tail):
    assert gobuild.build_command("go", "pkg", "out", ldflags, tags, mod) == ["go", "build", *expected_tail]


def _wrapper(tmp_path, body='package main\nfunc main() { println("hi") }\n'):
    src = tmp_path / "wrapper"
    src.mkdir()
    (src / "go.mod").write_text("module example.local/w\n\ngo 1.22\n")
    (src / "go.sum").write_text("")
    (src / "main.go").write_text(body)
    return str(src)


def test_wrapper_digest_needs_go_sum(tmp_path):
    (tmp_path / "go.mod").write_text("module x\n")
    with pytest.raises(gobuild.GoBuildError, match="go.sum is missing"):
        gobuild.wrapper_digest(str(tmp_path))


def test_wrapper_digest_follows_content(tmp_path):
    src = _wrapper(tmp_path)
    before = gobuild.wrapper_digest(src)
    with open(os.path.join(src, "go.sum"), "a") as f:
        f.write("example.com/x v1.0.0 h1:abc=\n")
    assert gobuild.wrapper_digest(src) != before


def test_wrapper_digest_follows_own_go_sources(tmp_path):
    src = _wrapper(tmp_path)
    before = gobuild.wrapper_digest(src)
    with open(os.path.join(src, "main.go"), "w") as f:
        f.write("package main\n")
    with_source = gobuild.wrapper_digest(src)
    assert with_source != before
    with open(os.path.join(src, "main.go"), "a") as f:
        f.write("func main() {}\n")
    assert gobuild.wrapper_digest(src) != with_source


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d, s: os.unlink(d), "binary missing"),
        (lambda d, s: os.unlink(d + gobuild.STAMP_SUFFIX), "no build stamp"),
        (lambda d, s: s.update(version="v2"), "version changed"),
        (lambda d, s: s.update(ldflags=["-s"]), "ldflags changed"),
        (lambda d, s: s.update(go_version="go1.27.0"), "go_version changed"),
        (lambda d, s: open(d, "ab").write(b"x"), "binary altered since it was built"),
        # same size, new content: the stamp's mtime no longer matches, so the digest is read
        (lambda d, s: open(d, "wb").write(b"BINARY"), "binary altered since it was built"),
        (lambda d, s: os.utime(d, (1, 1)), None),
        (lambda d, s: None, None),
    ],
)
def test_rebuild_reason(tmp_path, mutate, reason):
    dest = str(tmp_path / "bin")
    with open(dest, "wb") as f:
        f.write(b"binary")
    desired = {
        "go_version": "go1.26.8",
        "ldflags": [],
        "package": "p",
        "tags": [],
        "version": "v1",
        "wrapper_sha256": "x",
    }
    os.utime(dest, (1000, 1000))
    stat = gobuild.binary_stat(dest)
    gobuild.write_stamp(dest, dict(desired, binary_sha256=gobuild.sha256_file(dest), binary_stat=stat))
    mutate(dest, desired)
    assert gobuild.rebuild_reason(dest, gobuild.read_stamp(dest), desired) == reason


def test_build_real_binary_atomically(tmp_path):
    src = _wrapper(tmp_path)
    dest = str(tmp_path / "out" / "hello")
    seconds, digest = gobuild.build(src, ".", dest, ["-s -w"], [], dict(os.environ, CGO_ENABLED="0"), "go", "mod", 300)
    assert seconds > 0
    assert digest == gobuild.sha256_file(dest)
    assert subprocess.run([dest], capture_output=True, text=True, check=False).stderr.strip() == "hi"
    assert [p for p in os.listdir(os.path.dirname(dest)) if p.startswith(".build-")] == []


def test_build_failure_names_package_and_keeps_no_partial_file(tmp_path):
    src = _wrapper(tmp_path, body="package main\nfunc main() { undefined() }\n")
    dest = str(tmp_path / "out" / "broken")
    with pytest.raises(gobuild.GoBuildError, match=r"(?s)package=\.: go build failed .*undefined"):
        gobuild.build(src, ".", dest, [], [], dict(os.environ), "go", "mod", 300)
    assert os.listdir(os.path.dirname(dest)) == []


def test_go_env_version_missing_executable():
    with pytest.raises(gobuild.GoBuildError, match="go=/nonexistent/go: no such executable"):
        gobuild.go_env_version("/nonexistent/go", dict(os.environ))


def test_stamp_roundtrip(tmp_path):
    dest = str(tmp_path / "b")
    gobuild.write_stamp(dest, {"a": 1})
    assert json.loads(open(dest + gobuild.STAMP_SUFFIX).read()) == {"a": 1}
    assert gobuild.read_stamp(str(tmp_path / "none")) is None


def test_two_builds_of_one_binary_writing_their_stamps_at_once_both_succeed(tmp_path):
    # Two labs' converges on one controller may build the same binary at once: each stamp goes through a file of
    # its own (one temporary name for both made one writer's rename find nothing).
    import threading

    dest, errors = str(tmp_path / "etcd"), []

    def write(n: int) -> None:
        try:
            for i in range(300):
                gobuild.write_stamp(dest, {"writer": n, "i": i})
        except OSError as e:
            errors.append(e)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sorted(os.listdir(tmp_path)) == ["etcd" + gobuild.STAMP_SUFFIX]
