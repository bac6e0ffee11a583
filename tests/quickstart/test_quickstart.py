"""The quick start, as a new user runs it: the README's own commands, read from README.md (a README that changes
without this test breaks it), on the default inventory, from empty scalelab directories (hack/test binds fresh
ones over ~/.cache/scalelab and ~/.local/share/scalelab): the clusters scenario, Molecule's verify of it, a re-run
that changes nothing, the README's teardown. CI runs this file first. (The metal3 scenario from empty directories,
with Molecule's verify of it, is tests/integration/test_farm.py's, on the Cluster API v1.7 lab.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import pytest
from integration.lab import molecule_verify  # tests/ is on sys.path: both are packages in it

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = os.path.expanduser("~/.local/share/scalelab/scalelab")
CACHE = os.path.expanduser("~/.cache/scalelab")


def readme() -> str:
    with open(os.path.join(ROOT, "README.md")) as f:
        return f.read()


def quick_start() -> tuple[str, str]:
    """(setup command, main job) from the first command of the README's quick start block."""
    block = re.search(r"^## Quick start.*?^```sh\n(.*?)^```", readme(), re.S | re.M)
    assert block, "README.md has no '## Quick start' section with a ```sh block"
    commands = [c.strip() for c in block.group(1).splitlines() if c.strip() and not c.strip().startswith("#")]
    setup, _dummy, job = commands[0].partition("&&")
    assert job, f"the quick start's first command is not '<setup> && <main job>': {commands[0]!r}"
    return setup.strip(), job.strip()


def teardown_command() -> str:
    m = re.search(r"^(\S*ansible-playbook playbooks/teardown\.yml)\b", readme(), re.M)
    assert m, "README.md names no teardown command"
    return m.group(1)


def run(command: str, log: str) -> subprocess.CompletedProcess:
    """Run a README command as written (bash, in the checkout); its output goes to the log and the test's output."""
    started = time.monotonic()
    proc = subprocess.run(
        ["bash", "-c", command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, ANSIBLE_NOCOLOR="1"),
        check=False,
    )
    with open(log, "a") as f:
        f.write(f"$ {command}\n{proc.stdout}\n{proc.stderr}\n")
    print(f"$ {command}  -> rc={proc.returncode} in {time.monotonic() - started:.0f} s")
    return proc


def recap(stdout: str, host: str = "localhost") -> dict[str, int]:
    m = re.search(rf"^{re.escape(host)}\s+:\s+(.*)$", stdout, re.M)
    assert m, stdout[-3000:]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}


def printed_report(stdout: str) -> tuple[str, str]:
    md, path = re.search(r"'report:\s+(\S+\.md)'", stdout), re.search(r"'JSON:\s+(\S+\.json)'", stdout)
    assert md and path, "the main job printed no 'report: ...' and 'JSON: ...' lines: " + stdout[-3000:]
    return md.group(1), path.group(1)


def inventory_clusters() -> int:
    import yaml

    with open(os.path.join(ROOT, "inventories", "local", "group_vars", "all", "main.yml")) as f:
        return int(yaml.safe_load(f)["scale_clusters"])


def lab_processes() -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if (LAB + "/").encode() in f.read():
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("quickstart") / "quickstart.log")
    yield path
    print(f"quick start log: {path}")


def fail(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout[-6000:] + proc.stderr[-3000:]


def main_job(log: str) -> tuple[dict, str]:
    """The README's main job from nothing: (its results JSON, the report it printed)."""
    # A quick start before this one leaves its runs' results, nothing else (the teardown keeps them).
    assert set(lab_left()) <= {"results"}, f"{LAB} holds {lab_left()}: the quick start must start without a lab"
    setup, job = quick_start()
    proc = run(f"{setup} && {job}", log)
    assert proc.returncode == 0, fail(proc)
    md, path = printed_report(proc.stdout)
    assert os.path.isfile(md), md
    with open(path) as f:
        return json.load(f), md


def lab_left() -> list[str]:
    return sorted(os.listdir(LAB)) if os.path.isdir(LAB) else []


def teardown(log: str, report: str) -> None:
    """The README's teardown: nothing of the lab is left but its runs' results - the report it printed among them."""
    proc = run(teardown_command(), log)
    assert proc.returncode == 0, fail(proc)
    assert lab_left() == ["results"] and lab_processes() == [], lab_left()
    assert os.path.isfile(report), f"the teardown removed the report the main job printed: {report}"


def test_binaries_cache_starts_empty_in_ci():
    # hack/test (CI) binds fresh directories over scalelab's own: nothing of an earlier run is there.
    if not os.environ.get("SCALELAB_TEST_FRESH"):
        pytest.skip("not run by hack/test in fresh directories (SCALELAB_TEST_WARM=1)")
    assert not os.path.exists(os.path.join(CACHE, "bin")), os.listdir(CACHE)
    assert not os.path.exists(LAB)


def rerun_changes_nothing(log: str) -> None:
    """The README says a re-run changes nothing."""
    _dummy, job = quick_start()
    again = run(job, log)
    assert again.returncode == 0, fail(again)
    assert recap(again.stdout)["changed"] == 0, "changed: " + "; ".join(changed_tasks(again.stdout))


def changed_tasks(stdout: str) -> list[str]:
    """Each task that reported a change, with its result line (the whole output is in the quick start log)."""
    out, task = [], ""
    for line in stdout.splitlines():
        if line.startswith("TASK ["):
            task = line.rstrip("* ")
        elif line.startswith("changed:"):
            out.append(f"{task} -> {line[:300]}")
    return out


def test_quick_start_clusters(log):
    n = inventory_clusters()
    doc, report = main_job(log)
    try:
        assert doc["kinds"]["Cluster"]["count"] == n and doc["kinds"]["Cluster"]["ready"] == n, doc["kinds"]["Cluster"]
        assert doc["summary"]["clusters_ready"] == n, doc["summary"]
        molecule_verify("default", CLUSTERS_DEFAULT_LAB | {"clusters": n})
        rerun_changes_nothing(log)
    finally:
        teardown(log, report)


# The default inventory's lab, as molecule/default/tests reads it (SCALELAB_VERIFY).
CLUSTERS_DEFAULT_LAB = {
    "name": "scalelab",
    "etcd_ports": [2379, 2380, 2381],
    "apiserver_port": 6443,
    "controller_manager_port": 10257,
    "capi_base": 9400,
    "set": "scale",
    "observability_base": 9490,
}
