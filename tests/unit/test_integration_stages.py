"""The integration tests run in the stages tests/integration/conftest.py names, whatever their files are called."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INTEGRATION = os.path.join(ROOT, "tests", "integration")


def collect(*paths: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q", *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_collected_in_stage_order():
    proc = collect("tests/integration")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    files = []
    for line in proc.stdout.splitlines():
        if "::" in line:
            f = line.split("::")[0].rsplit("/", 1)[-1]
            if not files or files[-1] != f:
                files.append(f)
    # each file in one run, and the lab stages in their order
    assert len(files) == len(set(files)), files
    order = ["test_teardown.py", "test_netns_hosts.py", "test_stack_capi17.py", "test_metal3.py", "test_farm.py"]
    assert [f for f in files if f in order] == order, files
    assert files.index("test_sweep.py") < files.index("test_teardown.py")
    assert files.index("test_openstack_vms.py") < files.index("test_teardown.py")


def test_a_lab_fixture_outside_its_stages_or_an_unknown_stage_is_refused(tmp_path):
    bad = os.path.join(INTEGRATION, "test_unit_probe_stages.py")
    try:
        with open(bad, "w") as f:
            f.write(
                "import pytest\n\n"
                "@pytest.mark.stage('lab17')\n"
                "def test_uses_the_first_lab(lab):\n    pass\n\n"
                "@pytest.mark.stage('later')\n"
                "def test_unknown_stage():\n    pass\n"
            )
        proc = collect(bad)
    finally:
        os.unlink(bad)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "stage 'lab17' uses fixture lab" in out or "stage('later') is not one of" in out, out


def test_a_lab_fixture_in_a_test_marked_aside_is_refused():
    # hack/test runs `-m aside` beside the quick start, whose lab has the default ports: no lab may start there.
    bad = os.path.join(INTEGRATION, "test_unit_probe_aside.py")
    try:
        with open(bad, "w") as f:
            f.write("import pytest\n\n@pytest.mark.aside\ndef test_uses_a_lab(lab17):\n    pass\n")
        proc = collect("-m", "aside", bad)
    finally:
        os.unlink(bad)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "marked aside (run beside the quick start) but uses lab17" in out, out


def test_the_aside_tests_and_the_rest_are_the_whole_suite():
    def ids(*args):
        proc = collect(*args, "tests/integration")
        assert proc.returncode in (0, 5), proc.stdout[-3000:] + proc.stderr[-2000:]
        return {line for line in proc.stdout.splitlines() if "::" in line}

    # Counts, not ids: an id may hold a time (test_bad_inputs' future end). hack/test's three selections.
    aside, netns, rest = ids("-m", "aside"), ids("-m", "netns"), ids("-m", "not aside and not netns")
    assert aside and netns and len(aside) + len(netns) + len(rest) == len(ids()), (sorted(aside), sorted(netns))
    assert all("test_netns_hosts.py" in i for i in netns), sorted(netns)
    assert {i.split("::")[0] for i in aside} == {
        "tests/integration/test_openstack_vms.py",
        "tests/integration/test_binaries.py",
    }


def test_the_netns_marker_and_stage_go_together():
    bad = os.path.join(INTEGRATION, "test_unit_probe_netns.py")
    try:
        with open(bad, "w") as f:
            f.write("import pytest\n\n@pytest.mark.netns\ndef test_marked_but_in_the_lab_stage():\n    pass\n")
        proc = collect(bad)
    finally:
        os.unlink(bad)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "stage 'lab' and the netns marker go together" in out, out
