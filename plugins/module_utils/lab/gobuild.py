# Copyright: scalelab contributors
# Apache-2.0
"""Build a Go binary from one of our wrapper modules (go.mod + go.sum only), cached by a stamp.

The stamp next to the binary records everything that decides its content (wrapper digest, package,
ldflags, Go version, binary digest, size and mtime); a binary is rebuilt only when one of those changes or the
file was altered, so a second converge costs a stat and no compile (the digest is read only when the size or mtime
moved: hashing every cached binary cost ~1 s per converge).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

from ansible_collections.scalelab.capi.plugins.module_utils.errors import ScalelabError

STAMP_SUFFIX = ".stamp.json"
_GO_VERSION_RE = re.compile(r"^go(\d+)(?:\.(\d+))?(?:\.(\d+))?")
_GO_DIRECTIVE_RE = re.compile(r"^go\s+(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*$", re.MULTILINE)


class GoBuildError(ScalelabError):
    """A build failed for a reason the user can act on; the message says which."""


def parse_go_version(text: str) -> tuple[int, int, int]:
    """'go1.26.8' -> (1, 26, 8); 'go1.25' -> (1, 25, 0)."""
    m = _GO_VERSION_RE.match(text.strip())
    if not m:
        raise GoBuildError(f"cannot parse Go version {text!r}")
    return tuple(int(x) if x else 0 for x in m.groups())  # type: ignore[return-value]


def required_go(go_mod_text: str) -> tuple[int, int, int]:
    """The `go` directive of a go.mod: the oldest toolchain that may build it."""
    m = _GO_DIRECTIVE_RE.search(go_mod_text)
    if not m:
        return (1, 0, 0)
    return tuple(int(x) if x else 0 for x in m.groups())  # type: ignore[return-value]


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def wrapper_digest(src: str) -> str:
    """Digest of go.mod, go.sum and any Go sources of our own beside them (a program such as the API server farm).

    Upstream wrappers hold only go.mod and go.sum, so their digest is that of those two files.
    """
    h = hashlib.sha256()
    for name in ("go.mod", "go.sum"):
        if not os.path.isfile(os.path.join(src, name)):
            raise GoBuildError(f"src={src}: {name} is missing (a wrapper module is go.mod + go.sum)")
    sources = sorted(n for n in os.listdir(src) if n.endswith(".go") and os.path.isfile(os.path.join(src, n)))
    for name in ["go.mod", "go.sum", *sources]:
        h.update(name.encode() + b"\0")
        with open(os.path.join(src, name), "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def desired_stamp(src: str, package: str, ldflags: list[str], version: str, go_version: str, tags: list[str]) -> dict:
    return {
        "go_version": go_version,
        "ldflags": list(ldflags),
        "package": package,
        "tags": list(tags),
        "version": version,
        "wrapper_sha256": wrapper_digest(src),
    }


def read_stamp(dest: str) -> dict | None:
    try:
        with open(dest + STAMP_SUFFIX) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def binary_stat(dest: str) -> dict:
    st = os.stat(dest)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def rebuild_reason(dest: str, stamp: dict | None, desired: dict) -> str | None:
    """Why dest must be (re)built, or None when the cached binary is current."""
    if not os.path.isfile(dest):
        return "binary missing"
    if stamp is None:
        return "no build stamp"
    for key in sorted(desired):
        if stamp.get(key) != desired[key]:
            return f"{key} changed"
    if stamp.get("binary_stat") == binary_stat(dest):
        return None
    if stamp.get("binary_sha256") != sha256_file(dest):
        return "binary altered since it was built"
    return None


def stat_stale(dest: str, stamp: dict | None) -> bool:
    """A current binary whose stamp lacks its size and mtime (touched, or stamped by an older scalelab)."""
    return stamp is not None and os.path.isfile(dest) and stamp.get("binary_stat") != binary_stat(dest)


def build_command(go: str, package: str, output: str, ldflags: list[str], tags: list[str], mod: str) -> list[str]:
    cmd = [go, "build", f"-mod={mod}", "-trimpath", "-o", output]
    if tags:
        cmd += ["-tags", ",".join(tags)]
    if ldflags:
        cmd += ["-ldflags", " ".join(ldflags)]
    cmd.append(package)
    return cmd


def go_env_version(go: str, env: dict) -> str:
    try:
        out = subprocess.run([go, "env", "GOVERSION"], env=env, capture_output=True, text=True, check=True)
    except FileNotFoundError as e:
        raise GoBuildError(f"go={go}: no such executable") from e
    except subprocess.CalledProcessError as e:
        raise GoBuildError(f"go={go}: `go env GOVERSION` failed: {e.stderr.strip()}") from e
    return out.stdout.strip()


def build(
    src: str, package: str, dest: str, ldflags: list[str], tags: list[str], env: dict, go: str, mod: str, timeout: int
) -> tuple[float, str]:
    """Compile into a temporary file beside dest and rename it, so dest is never half-written."""
    os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".build-", dir=os.path.dirname(dest) or ".")
    os.close(fd)
    start = time.monotonic()
    try:
        proc = subprocess.run(
            build_command(go, package, tmp, ldflags, tags, mod),
            cwd=src,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-25:])
            raise GoBuildError(f"package={package}: go build failed (exit {proc.returncode}):\n{tail}")
        os.chmod(tmp, 0o755)
        shutil.move(tmp, dest)
    except subprocess.TimeoutExpired as e:
        raise GoBuildError(f"package={package}: go build did not finish within timeout={timeout}s") from e
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return time.monotonic() - start, sha256_file(dest)


def write_stamp(dest: str, stamp: dict) -> None:
    # A temporary file of its own: two converges building one binary at once must not rename each other's.
    fd, tmp = tempfile.mkstemp(prefix=".stamp-", dir=os.path.dirname(dest) or ".")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(stamp, f, indent=2, sort_keys=True)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest + STAMP_SUFFIX)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
