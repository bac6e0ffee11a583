"""Runs a module of ours as Ansible does: a subprocess given its arguments as JSON, its result read from stdout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


@pytest.fixture
def run_module(tmp_path):
    def run(name: str, check: bool = False, **args) -> dict:
        payload = {"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=check, _ansible_diff=True)}
        path = tmp_path / f"{name}-args.json"
        path.write_text(json.dumps(payload))
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".collections"))
        module = os.path.join(ROOT, "plugins", "modules", f"{name}.py")
        proc = subprocess.run([sys.executable, module, str(path)], capture_output=True, text=True, env=env, check=False)
        return json.loads(proc.stdout)

    return run


@pytest.fixture
def supervisor():
    """A real supervisord (this venv's) with programs in conf.d: `up` (sleep) running, `down` configured but not
    started; stopped at the end. Yields ctl, conf and the conf.d directory."""
    d = tempfile.mkdtemp(prefix="sv-", dir="/tmp")  # a unix socket path must stay short
    conf, confd = os.path.join(d, "supervisord.conf"), os.path.join(d, "conf.d")
    os.mkdir(confd)
    with open(conf, "w") as f:
        f.write(
            f"[unix_http_server]\nfile={d}/s.sock\n[supervisord]\nlogfile={d}/sv.log\npidfile={d}/sv.pid\n"
            "[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
            f"[supervisorctl]\nserverurl=unix://{d}/s.sock\n[include]\nfiles={confd}/*.conf\n"
        )
    for name, extra in (("up", "startsecs=0"), ("down", "autostart=false")):
        with open(os.path.join(confd, f"{name}.conf"), "w") as f:
            f.write(f"[program:{name}]\ncommand=sleep 120\n{extra}\n")
    bin_dir = os.path.dirname(sys.executable)
    subprocess.run([os.path.join(bin_dir, "supervisord"), "-c", conf], check=True)
    ctl = os.path.join(bin_dir, "supervisorctl")
    for _dummy in range(100):
        if (
            "RUNNING"
            in subprocess.run([ctl, "-c", conf, "status", "up"], capture_output=True, text=True, check=False).stdout
        ):
            break
        time.sleep(0.1)
    yield {"ctl": ctl, "conf": conf, "confd": confd}
    subprocess.run([ctl, "-c", conf, "shutdown"], capture_output=True, check=False)
    shutil.rmtree(d, ignore_errors=True)
