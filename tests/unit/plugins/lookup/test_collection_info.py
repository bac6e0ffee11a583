from __future__ import annotations

import json
import subprocess

import pytest
from ansible_collections.scalelab.capi.plugins.lookup import collection_info


def test_the_checkouts_own_version_and_commit():
    (res,) = collection_info.LookupModule().run([])
    assert res["name"] == "scalelab.capi" and res["version"].count(".") == 2
    # git is there wherever this checkout came from (CI clones it): no skip when it is missing, a failure.
    head = subprocess.run(
        ["git", "-C", collection_info.ROOT, "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    assert res["commit"] == head.stdout.strip()


@pytest.mark.parametrize(
    "files, expected",
    [
        ({"galaxy.yml": "namespace: a\nname: b\nversion: 1.2.3\n"}, ("a.b", "1.2.3")),
        # an installed collection: MANIFEST.json wins over a stray galaxy.yml
        (
            {
                "MANIFEST.json": json.dumps({"collection_info": {"namespace": "a", "name": "b", "version": "2.0.0"}}),
                "galaxy.yml": "namespace: a\nname: b\nversion: 1.0.0\n",
            },
            ("a.b", "2.0.0"),
        ),
    ],
)
def test_version(tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert collection_info.version(str(tmp_path)) == expected


def test_commit_and_dirty(tmp_path):
    assert collection_info.commit(str(tmp_path)) == ("", False)  # not a checkout

    def git(*args):
        return subprocess.run(["git", "-C", str(tmp_path), *args], capture_output=True, text=True, check=True).stdout

    git("init", "-q")
    (tmp_path / "f").write_text("1")
    git("add", "f")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")
    head = git("rev-parse", "HEAD").strip()
    assert collection_info.commit(str(tmp_path)) == (head, False)
    (tmp_path / "untracked").write_text("u")
    assert collection_info.commit(str(tmp_path)) == (head, False)
    (tmp_path / "f").write_text("2")
    assert collection_info.commit(str(tmp_path)) == (head, True)
