"""Capture CPU and heap profiles from every pprof endpoint of a lab, periodically, into files.

The offline stand-in for a continuous profiler: every --interval seconds, for each target at once, a CPU profile
of --seconds and a heap profile, kept as <out>/<job>/{cpu,heap}-<unix time>.pb.gz (the newest --keep of each).
The scalelab.capi.profile_top module turns those of a run's window into top functions per component.
Standard library only: it runs with the lab's Python, supervised like the control plane.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import ssl
import sys
import tempfile
import threading
import time
import urllib.request

STOP = threading.Event()


def log(msg: str) -> None:
    print(time.strftime("%Y-%m-%dT%H:%M:%S"), msg, flush=True)


def context(target: dict, cfg: dict) -> ssl.SSLContext | None:
    if not target["url"].startswith("https://") and not target["pprof"].startswith("https://"):
        return None
    ctx = ssl.create_default_context(cafile=cfg["ca_file"])
    ctx.load_cert_chain(cfg["cert_file"], cfg["key_file"])
    return ctx


def fetch(url: str, ctx: ssl.SSLContext | None, timeout: float) -> bytes:
    with urllib.request.urlopen(url, context=ctx, timeout=timeout) as r:  # noqa: S310 - our own loopback targets
        return r.read()


def store(directory: str, kind: str, stamp: int, data: bytes, keep: int) -> None:
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{kind}-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, os.path.join(directory, f"{kind}-{stamp}.pb.gz"))  # readers never see half a profile
    names = sorted(n for n in os.listdir(directory) if n.startswith(f"{kind}-") and n.endswith(".pb.gz"))
    for old in names[: max(0, len(names) - keep)]:
        os.unlink(os.path.join(directory, old))


def capture(target: dict, cfg: dict, stamp: int) -> None:
    ctx = context(target, cfg)
    out = os.path.join(cfg["out"], target["job"])
    seconds = cfg["seconds"]
    for kind, url, timeout in (
        ("cpu", f"{target['pprof']}/profile?seconds={seconds}", seconds + 30),
        ("heap", f"{target['pprof']}/heap", 30),
    ):
        try:
            store(out, kind, stamp, fetch(url, ctx, timeout), cfg["keep"])
        except Exception as e:  # noqa: BLE001 - a component down or restarting must not stop the others
            log(f"{target['job']}: {kind} profile from {url}: {e}")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True, help="JSON: targets [{job, url, pprof}], ca_file, cert_file, key_file")
    ap.add_argument("--out", required=True)
    ap.add_argument("--interval", type=float, default=60)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--keep", type=int, default=180)
    args = ap.parse_args(argv)
    with open(args.config, encoding="utf-8") as f:
        cfg = json.load(f)
    cfg.update(out=args.out, seconds=args.seconds, keep=args.keep)
    targets = [t for t in cfg["targets"] if t.get("pprof")]
    signal.signal(signal.SIGTERM, lambda *_: STOP.set())
    log(f"profiling {len(targets)} targets every {args.interval:g}s ({args.seconds}s CPU profiles) into {args.out}")
    while not STOP.is_set():
        started = time.time()
        stamp = int(started)
        threads = [threading.Thread(target=capture, args=(t, cfg, stamp), daemon=True) for t in targets]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        STOP.wait(max(1.0, args.interval - (time.time() - started)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
