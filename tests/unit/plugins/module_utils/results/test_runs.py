from __future__ import annotations

import json
import os

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.results import document, runs
from test_document import EPOCH0, FakeClient, at, lab, params

T1 = "2026-12-05T17:02:11.482113Z"
T2 = "2026-12-05T18:00:00.000001Z"


@pytest.mark.parametrize(
    "value, match",
    [
        ("yesterday", "^run_started=yesterday: not an RFC 3339 time"),
        ("2026-12-05T17:02:11", "^run_started=2026-12-05T17:02:11: not an RFC 3339 time with a zone"),
        ("2026-13-05T17:02:11Z", "^run_started=2026-13-05T17:02:11Z: not an RFC 3339"),
    ],
)
def test_a_bad_start_is_refused_naming_the_option(value, match):
    with pytest.raises(runs.RunsError, match=match):
        runs.since(value)


@pytest.mark.parametrize(
    "started, since",
    [
        ("", ""),
        (T1, "2026-12-05T17:02:11Z"),  # creationTimestamps are whole seconds: the start is floored
        ("2026-12-05T18:02:11+01:00", "2026-12-05T17:02:11Z"),
    ],
)
def test_since_compares_like_a_creation_timestamp(started, since):
    assert runs.since(started) == since


def test_run_ids_are_stable_distinct_and_sort_by_start():
    assert runs.run_id(T1) == runs.run_id(T1)
    assert runs.run_id(T1).startswith("20261205T170211Z-")
    assert runs.run_id(T1) != runs.run_id(T1.replace(".482113", ".482114"))
    assert sorted([runs.run_id(T2), runs.run_id(T1)]) == [runs.run_id(T1), runs.run_id(T2)]


def write_index(d, *entries):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, runs.INDEX), "w") as f:
        for e in entries:
            f.write(json.dumps(e) + "\n")


@pytest.mark.parametrize(
    "index, started, expect_id, new",
    [
        ([], "", None, True),  # nothing kept yet: a new run
        ([], T1, runs.run_id(T1), True),
        ([{"id": "a", "started": T1}], "", "a", False),  # a re-run that wrote nothing: the newest again
        ([{"id": "a", "started": T1}], T1, "a", False),  # the same start: the same run
        ([{"id": "a", "started": T1}], T2, runs.run_id(T2), True),  # a new start: a new run
        ([{"id": "a", "started": T1}, {"id": "b", "started": T2}], T1, "a", False),  # an older run, named by start
    ],
)
def test_open_run(tmp_path, index, started, expect_id, new):
    write_index(tmp_path, *index)
    run = runs.open_run(str(tmp_path), started)
    assert run.new is new
    if expect_id:
        assert run.id == expect_id
    assert run.dir == os.path.join(str(tmp_path), run.id)


def test_a_broken_index_names_the_directory(tmp_path):
    (tmp_path / runs.INDEX).write_text("{not json\n")
    with pytest.raises(runs.RunsError, match=f"^runs_dir={tmp_path}: runs.jsonl is not JSON lines"):
        runs.open_run(str(tmp_path), "")


def test_record_replaces_a_run_and_keeps_start_order(tmp_path):
    write_index(tmp_path, {"id": "b", "started": T2}, {"id": "a", "started": T1, "n": 1})
    lines = [json.loads(x) for x in runs.record(str(tmp_path), {"id": "a", "started": T1, "n": 2}).splitlines()]
    assert [(x["id"], x.get("n")) for x in lines] == [("a", 2), ("b", None)]


def test_latest_link_changes_only_when_it_moves(tmp_path):
    assert runs.link_latest(str(tmp_path), "a", check_mode=True) and not (tmp_path / "latest").exists()
    assert runs.link_latest(str(tmp_path), "a", check_mode=False)
    assert os.readlink(tmp_path / "latest") == "a"
    assert not runs.link_latest(str(tmp_path), "a", check_mode=False)
    assert runs.link_latest(str(tmp_path), "b", check_mode=False) and os.readlink(tmp_path / "latest") == "b"


def test_machine_facts_are_this_hosts():
    m = runs.machine()
    assert m["cores"] == os.cpu_count() and m["memory_bytes"] > 0 and len(m["load"]) == 3


def test_runs_are_kept_timed_from_their_own_start_and_compared_with_the_previous(tmp_path, monkeypatch):
    objects = lab()
    monkeypatch.setattr(document, "KubeClient", lambda *a, **kw: FakeClient(objects))
    runs_dir = str(tmp_path / "results" / "scale")
    p = {**params(tmp_path), "runs_dir": runs_dir, "run_started": ""}
    del p["path"], p["markdown_path"]

    # First run, no start known (results of a set made before runs were kept): every object timed.
    changed, first, _dummy = document.run(p, check_mode=False)
    assert changed and first["run"]["new"] and first["report"]["summary"]["clusters"] == 12
    assert first["path"] == os.path.join(runs_dir, first["run"]["id"], "scale.json")
    assert os.path.isfile(os.path.join(runs_dir, first["run"]["id"], "scale.md"))
    # A re-run that wrote nothing gathers the same run again: nothing changes.
    changed, again, _dummy = document.run(p, check_mode=False)
    assert not changed and again["run"] == {**first["run"], "new": False}

    # The set grows: clusters 6.. created by a second run whose first write began at 6 s.
    started = at(6).replace("Z", ".250000Z")
    changed, second, _dummy = document.run({**p, "run_started": started}, check_mode=True)
    assert changed and not os.path.exists(second["path"])  # check mode: nothing written
    assert os.readlink(os.path.join(runs_dir, "latest")) == first["run"]["id"]
    changed, second, _dummy = document.run({**p, "run_started": started}, check_mode=False)
    assert changed and second["run"]["new"] and second["run"]["id"] != first["run"]["id"]
    doc = json.loads(open(second["path"]).read())
    assert doc["earlier"] == {"Cluster": 6}
    assert doc["summary"]["clusters"] == 6  # scale-0006..0011, the Machines of the earlier ones not either
    assert doc["kinds"]["Machine"]["count"] == 6
    assert doc["run"]["started"] == started and second["window"]["start"] == started
    assert doc["run"]["id"] == second["run"]["id"] and doc["run"]["machine"]["cores"] == os.cpu_count()
    assert "counted out of its timings: 6 Cluster(s)" in open(second["path"][:-5] + ".md").read()
    assert os.readlink(os.path.join(runs_dir, "latest")) == second["run"]["id"]

    index = runs.index(runs_dir)
    assert [r["id"] for r in index] == [first["run"]["id"], second["run"]["id"]]
    assert index[1]["summary"]["clusters"] == 6 and index[1]["path"] == f"{second['run']['id']}/scale.json"
    assert index[0]["started"] == at(0)  # no start given: the window's, the first object's creation
    # baseline=previous: the run before, reached through `latest` too; the first run has none.
    latest = os.path.join(runs_dir, "latest", "scale.json")
    assert runs.baseline(latest, "previous") == os.path.join(runs_dir, first["run"]["id"], "scale.json")
    assert runs.baseline(first["path"], "previous") == ""
    assert runs.baseline(first["path"], "/b.json") == "/b.json"
    assert runs.baseline(str(tmp_path / "scale.json"), "previous") == ""  # not a kept run

    # The machine and the code are the run's first gather's: a later gather (after a commit) keeps them.
    doc["run"]["machine"]["load"] = [99.0, 99.0, 99.0]
    doc["run"]["collection"] = {"commit": "a" * 40}
    with open(second["path"], "w") as f:
        json.dump(doc, f)
    later = {**p, "run_started": "", "metadata": {**p["metadata"], "collection": {"commit": "b" * 40}}}
    changed, _dummy, _dummy = document.run(later, check_mode=False)
    kept = json.loads(open(second["path"]).read())["run"]
    assert kept["machine"]["load"] == [99.0, 99.0, 99.0] and kept["collection"] == {"commit": "a" * 40}
    assert not document.run(later, check_mode=False)[0]
    assert EPOCH0  # the lab's clock


def test_a_bad_start_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(document, "KubeClient", lambda *a, **kw: FakeClient(lab()))
    p = {**params(tmp_path), "runs_dir": str(tmp_path / "r"), "run_started": "noon"}
    del p["path"], p["markdown_path"]
    with pytest.raises(runs.RunsError, match="^run_started=noon"):
        document.run(p, check_mode=False)
    assert not (tmp_path / "r").exists()


def _kept(runs_dir, rid: str, started: str, files: tuple[str, ...]) -> None:
    os.makedirs(os.path.join(runs_dir, rid), exist_ok=True)
    for name in files:
        open(os.path.join(runs_dir, rid, name), "w").write("{}")
    line = {"id": rid, "started": started, "path": f"{rid}/scale.json"}
    text = (
        runs.record(runs_dir, line) if os.path.exists(os.path.join(runs_dir, runs.INDEX)) else json.dumps(line) + "\n"
    )
    open(os.path.join(runs_dir, runs.INDEX), "w").write(text)


def test_a_phase_is_compared_with_the_same_phase_of_the_latest_earlier_run_that_had_it(tmp_path):
    runs_dir = str(tmp_path)
    _kept(runs_dir, "r1", at(0), ("scale.json", "upgrade-v1.35.5.json"))
    _kept(runs_dir, "r2", at(10), ("scale.json",))  # no phases that run
    _kept(runs_dir, "r3", at(20), ("scale.json", "upgrade-v1.35.5.json", "delete.json"))
    here = os.path.join(runs_dir, "r3")
    assert runs.baseline(os.path.join(here, "upgrade-v1.35.5.json"), "previous") == os.path.join(
        runs_dir, "r1", "upgrade-v1.35.5.json"
    )
    assert runs.baseline(os.path.join(here, "scale.json"), "previous") == os.path.join(runs_dir, "r2", "scale.json")
    assert runs.baseline(os.path.join(here, "delete.json"), "previous") == ""  # no earlier run deleted its set
    assert runs.baseline(os.path.join(runs_dir, "r1", "upgrade-v1.35.5.json"), "previous") == ""
