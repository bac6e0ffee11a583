from __future__ import annotations

import copy

import pytest
import yaml
from ansible_collections.scalelab.capi.plugins.module_utils.sets import clusters
from ansible_collections.scalelab.capi.plugins.module_utils.sets.clusters import Member, SetError

CREATED = clusters.CREATED_VERSION
WORKERS = clusters.CREATED_WORKERS

CORE = "cluster.x-k8s.io/v1beta2"
PATTERN = "{name}-{index:04d}"


@pytest.mark.parametrize(
    ("set_name", "count", "pattern", "namespace", "per_cluster_ns", "expected"),
    [
        ("lab", 0, PATTERN, "default", False, []),
        ("lab", 1, PATTERN, "default", False, [Member(1, "lab-0001", "default")]),
        (
            "lab",
            3,
            PATTERN,
            "capi",
            False,
            [Member(1, "lab-0001", "capi"), Member(2, "lab-0002", "capi"), Member(3, "lab-0003", "capi")],
        ),
        ("s", 2, PATTERN, "", True, [Member(1, "s-0001", "s-0001"), Member(2, "s-0002", "s-0002")]),
        ("s", 2, "c{index}", "default", False, [Member(1, "c1", "default"), Member(2, "c2", "default")]),
        ("s", 1, "{name}", "default", False, [Member(1, "s", "default")]),  # one member needs no {index}
        ("s", 1, "w-{index:02d}-{name}", "ns", True, [Member(1, "w-01-s", "w-01-s")]),
        ("a" * 63, 1, "{name}", "default", False, [Member(1, "a" * 63, "default")]),  # longest DNS label
        ("s", 10000, PATTERN, "default", False, None),  # checked below: 10000 gives a 5-digit index
    ],
)
def test_members(set_name, count, pattern, namespace, per_cluster_ns, expected):
    got = clusters.members(set_name, count, pattern, namespace, per_cluster_ns)
    if expected is None:
        assert len(got) == count
        assert (got[0].name, got[9998].name, got[-1].name) == ("s-0001", "s-9999", "s-10000")
        assert [m.index for m in got] == list(range(1, count + 1))
    else:
        assert got == expected


@pytest.mark.parametrize(
    ("set_name", "pattern", "match"),
    [
        ("Lab", PATTERN, r"^name='Lab' must be a DNS label"),
        ("lab_1", PATTERN, r"^name='lab_1' must be a DNS label"),
        ("-lab", PATTERN, r"^name='-lab' must be a DNS label"),
        ("lab-", PATTERN, r"^name='lab-' must be a DNS label"),
        ("", PATTERN, r"^name='' must be a DNS label"),
        ("a" * 64, "c{index}", r"^name='a{64}' must be a DNS label .*<= 63 characters"),
    ],
)
def test_members_rejects_set_name(set_name, pattern, match):
    with pytest.raises(SetError, match=match):
        clusters.members(set_name, 1, pattern, "default", False)


def test_members_rejects_negative_count():
    with pytest.raises(SetError, match=r"^count=-1 must be >= 0$"):
        clusters.members("lab", -1, PATTERN, "default", False)


@pytest.mark.parametrize(
    ("set_name", "count", "pattern", "match"),
    [
        ("lab", 2, "{name}", r"gives 'lab' for index 1 and 2: names must be unique \(use \{index\}\)"),
        ("lab", 3, "c-{index:.0s}", r"^name_pattern='c-\{index:\.0s\}': ValueError"),
        ("lab", 1, "{name}_{index}", r"^name_pattern='\{name\}_\{index\}' gives 'lab_1' for index 1"),
        ("abcd", 1, "{name}-{index:059d}", r"gives 'abcd-0{58}1' for index 1: not a DNS label of <= 63"),
        ("lab", 1, "{index}", r"gives '1' for index 1: not a DNS label"),
        ("lab", 1, "{nme}-{index}", r"^name_pattern='\{nme\}-\{index\}': KeyError\('nme'\); use"),
        ("lab", 1, "{0}", r"^name_pattern='\{0\}': IndexError"),
        ("lab", 1, "{index:q}", r"^name_pattern='\{index:q\}': ValueError"),
        ("lab", 1, "{name", r"^name_pattern='\{name': ValueError"),
    ],
)
def test_members_rejects_name_pattern(set_name, count, pattern, match):
    with pytest.raises(SetError, match=match):
        clusters.members(set_name, count, pattern, "default", False)


@pytest.mark.parametrize(
    ("namespace", "match"),
    [
        ("Default", r"^namespace='Default' must be a DNS label of <= 63 characters$"),
        ("", r"^namespace='' must be a DNS label of <= 63 characters$"),
        ("my_ns", r"^namespace='my_ns' must be a DNS label of <= 63 characters$"),
    ],
)
def test_members_rejects_namespace(namespace, match):
    with pytest.raises(SetError, match=match):
        clusters.members("lab", 1, PATTERN, namespace, False)


def test_members_count_zero_checks_set_name_and_namespace_but_not_pattern():
    assert clusters.members("lab", 0, "{nme}", "default", False) == []
    with pytest.raises(SetError, match="^name="):
        clusters.members("Lab", 0, PATTERN, "default", False)
    with pytest.raises(SetError, match="^namespace="):
        clusters.members("lab", 0, PATTERN, "Bad", False)


@pytest.mark.parametrize(
    ("set_name", "pattern", "namespace"),
    [
        pytest.param(
            "lab\n",
            "c-{index}",
            "default",
            id="set-name-trailing-newline",
        ),
        pytest.param(
            "lab",
            "{name}-{index}\n",
            "default",
            id="member-name-trailing-newline",
        ),
        pytest.param(
            "lab",
            PATTERN,
            "default\n",
            id="namespace-trailing-newline",
        ),
        pytest.param(
            "lab",
            PATTERN,
            "n" * 64,
            id="namespace-64-chars",
        ),
        pytest.param(
            "lab",
            "{name.x}-{index}",
            "default",
            id="pattern-attribute",
        ),
        pytest.param(
            "lab",
            "c-{index[0]}",
            "default",
            id="pattern-subscript",
        ),
    ],
)
def test_members_rejects_edge_cases(set_name, pattern, namespace):
    with pytest.raises(SetError):
        clusters.members(set_name, 1, pattern, namespace, False)


TOPO = {
    "class_name": "quick-start",
    "version": "v1.34.1",
    "worker_class": "default-worker",
    "workers": 2,
    "control_plane_replicas": 3,
}
NETWORK = {"service_cidr": "10.128.0.0/12", "pod_cidr": "192.168.0.0/16", "service_domain": "cluster.local"}


@pytest.mark.parametrize(
    ("api_version", "class_fields"),
    [
        ("cluster.x-k8s.io/v1beta1", {"class": "quick-start"}),
        ("cluster.x-k8s.io/v1beta2", {"classRef": {"name": "quick-start", "namespace": "${CLASS_NAMESPACE}"}}),
    ],
)
def test_topology_cluster(api_version, class_fields):
    assert clusters.topology_cluster(api_version, TOPO, NETWORK) == {
        "apiVersion": api_version,
        "kind": "Cluster",
        "metadata": {"name": "${CLUSTER_NAME}", "namespace": "${NAMESPACE}"},
        "spec": {
            "clusterNetwork": {
                "services": {"cidrBlocks": ["10.128.0.0/12"]},
                "pods": {"cidrBlocks": ["192.168.0.0/16"]},
                "serviceDomain": "cluster.local",
            },
            "topology": {
                **class_fields,
                "version": "v1.34.1",
                "controlPlane": {"replicas": 3},
                "workers": {
                    "machineDeployments": [{"class": "default-worker", "name": "md-0", "replicas": 2}],
                },
            },
        },
    }


def test_topology_cluster_renders_for_a_member():
    docs = [clusters.topology_cluster(CORE, TOPO, NETWORK)]
    r = clusters.Renderer(docs, {"CLASS_NAMESPACE": "classes"}, "lab", {})
    (got,) = r.render(Member(2, "lab-0002", "ns-2"))
    assert got["metadata"]["name"] == "lab-0002"
    assert got["metadata"]["namespace"] == "ns-2"
    assert got["spec"]["topology"]["classRef"] == {"name": "quick-start", "namespace": "classes"}


def test_topology_cluster_v1beta2_needs_class_namespace():
    with pytest.raises(SetError, match=r"\$\{CLASS_NAMESPACE\}"):
        clusters.Renderer([clusters.topology_cluster(CORE, TOPO, NETWORK)], {}, "lab", {})


CLUSTER_DOC = "apiVersion: cluster.x-k8s.io/v1beta2\nkind: Cluster\nmetadata:\n  name: ${CLUSTER_NAME}\n"
CM_DOC = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: '1'\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (CLUSTER_DOC, [("Cluster", "${CLUSTER_NAME}")]),
        (CM_DOC + "---\n" + CLUSTER_DOC, [("ConfigMap", "cm"), ("Cluster", "${CLUSTER_NAME}")]),
        (
            "---\n" + CLUSTER_DOC + "---\n---\n" + CM_DOC + "---\n",
            [("Cluster", "${CLUSTER_NAME}"), ("ConfigMap", "cm")],
        ),
    ],
)
def test_parse_template(text, expected):
    docs = clusters.parse_template(text)
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == expected


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("kind: [Cluster\n", r"^template: not valid YAML: "),
        ("a: b\n  c: d\n", r"^template: not valid YAML: "),
        ("", r"^template: no documents$"),
        ("---\n---\n", r"^template: no documents$"),
        ("# only a comment\n", r"^template: no documents$"),
        ("apiVersion: v1\nmetadata:\n  name: x\n", r"^template: document 1 lacks apiVersion or kind$"),
        ("kind: Cluster\nmetadata:\n  name: x\n", r"^template: document 1 lacks apiVersion or kind$"),
        ("- a\n- b\n", r"^template: document 1 lacks apiVersion or kind$"),
        ("just text\n", r"^template: document 1 lacks apiVersion or kind$"),
        (CLUSTER_DOC + "---\napiVersion: v1\nkind: ''\n", r"^template: document 2 lacks apiVersion or kind$"),
        ("apiVersion: v1\nkind: Cluster\n", r"^template: document 1 \(Cluster\) lacks metadata.name$"),
        ("apiVersion: v1\nkind: Cluster\nmetadata: {}\n", r"^template: document 1 \(Cluster\) lacks metadata.name$"),
        ("apiVersion: v1\nkind: Cluster\nmetadata:\n", r"^template: document 1 \(Cluster\) lacks metadata.name$"),
        (
            CLUSTER_DOC + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: x\n",
            r"^template: document 2 \(ConfigMap\) lacks metadata.name$",
        ),
        (CM_DOC, r"^template: no Cluster document$"),
        (CM_DOC + "---\n" + CM_DOC.replace("kind: ConfigMap", "kind: cluster"), r"^template: no Cluster document$"),
    ],
)
def test_parse_template_rejects(text, match):
    with pytest.raises(SetError, match=match):
        clusters.parse_template(text)


def _doc(spec_value, **metadata):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", **metadata}, "data": {"v": spec_value}}


M7 = Member(7, "c-0007", "ns-a")


@pytest.mark.parametrize(
    ("value", "variables", "expected"),
    [
        ("${CLUSTER_NAME}", {}, "c-0007"),
        ("${NAMESPACE}", {}, "ns-a"),
        ("${INDEX}", {}, 7),  # a whole-value placeholder keeps the JSON type: int
        ("idx-${INDEX}", {}, "idx-7"),
        ("${CLUSTER_NAME}-md", {}, "c-0007-md"),
        ("${CLUSTER_NAME}.${NAMESPACE}.svc", {}, "c-0007.ns-a.svc"),
        ("${CP}", {"CP": 3}, 3),
        ("${CP}", {"CP": 1.5}, 1.5),
        ("${ON}", {"ON": True}, True),
        ("${NONE}", {"NONE": None}, None),
        ("${LIST}", {"LIST": ["a", 2]}, ["a", 2]),
        ("${MAP}", {"MAP": {"k": "v"}}, {"k": "v"}),
        ("replicas=${CP}", {"CP": 3}, "replicas=3"),
        ("${CP}${CP}", {"CP": 3}, "33"),
        ("${Q}", {"Q": 'say "hi"'}, 'say "hi"'),
        ("echo ${Q}", {"Q": 'a "b" c'}, 'echo a "b" c'),
        ('echo "${CLUSTER_NAME}"', {}, 'echo "c-0007"'),
        ("${P}", {"P": "C:\\dir\\n"}, "C:\\dir\\n"),
        ("p=${P}", {"P": "C:\\dir"}, "p=C:\\dir"),
        ("${U}", {"U": "naïve ✓"}, "naïve ✓"),
        ("$CLUSTER_NAME and {CLUSTER_NAME}", {}, "$CLUSTER_NAME and {CLUSTER_NAME}"),
        ("${CLUSTER_NAME}", {"CLUSTER_NAME": "override"}, "c-0007"),  # built-ins win over variables
        ("${CLUSTER}/${CLUSTER_NAME}", {"CLUSTER": "k"}, "k/c-0007"),  # a name that prefixes another
        (["${CLUSTER_NAME}", "${INDEX}", "x${INDEX}"], {}, ["c-0007", 7, "x7"]),
        # clusterctl's defaults: := and :- when unset or empty, = and - when unset.
        ("${CP:=3}", {}, 3),  # a whole value takes the default's YAML type, as clusterctl's YAML would
        ("${CP:=3}", {"CP": 5}, 5),
        ("${CP:=3}", {"CP": ""}, 3),
        ("${CP=3}", {"CP": ""}, ""),
        ("${CP-3}", {}, 3),
        ("${ZONE:-eu-1}", {}, "eu-1"),
        ("z-${ZONE:-eu-1}", {}, "z-eu-1"),
        ("z-${ZONE:-eu-1}", {"ZONE": "us"}, "z-us"),
        ("${ON:=true}", {}, True),
        ("${V:=v1.35.4}", {}, "v1.35.4"),
        ("${E:=}", {}, ""),
        ('${Q:=say "hi"}', {}, 'say "hi"'),
        ('q=${Q:=say "hi"}', {}, 'q=say "hi"'),
        ("${NAME:=x}-${CLUSTER_NAME:=no}", {}, "x-c-0007"),
    ],
)
def test_renderer_substitutes(value, variables, expected):
    r = clusters.Renderer([_doc(value)], variables, "lab", {})
    (got,) = r.render(M7)
    assert got["data"]["v"] == expected
    assert type(got["data"]["v"]) is type(expected)


@pytest.mark.parametrize(
    ("value", "variables", "expected"),
    [
        pytest.param(
            'x"${CP}',
            {"CP": 3},
            'x"3',
        ),
        pytest.param(
            'id="${INDEX}',
            {},
            'id="7',
        ),
    ],
)
def test_renderer_escaped_quote_before_a_placeholder(value, variables, expected):
    (got,) = clusters.Renderer([_doc(value)], variables, "lab", {}).render(M7)
    assert got["data"]["v"] == expected


@pytest.mark.parametrize(
    ("values", "variables", "match"),
    [
        (["${CP}"], {}, r"^template uses \$\{CP\} but variables does not set it$"),
        (["${ZONE}", "${CP}", "a-${ZONE}"], {"X": 1}, r"^template uses \$\{CP\}, \$\{ZONE\} but variables does not"),
        (["${cp}"], {"CP": 3}, r"^template uses \$\{cp\} but"),  # names are case sensitive
        (["${CP:=1}", "${ZONE}"], {}, r"^template uses \$\{ZONE\} but"),  # one with a default is not missing
    ],
)
def test_renderer_missing_variable(values, variables, match):
    with pytest.raises(SetError, match=match):
        clusters.Renderer([_doc(v) for v in values], variables, "lab", {})


@pytest.mark.parametrize(
    ("metadata", "extra_labels", "expected_metadata"),
    [
        (
            {},
            {},
            {"name": "cm", "namespace": "ns-a", "labels": {"scalelab.io/set": "lab", "scalelab.io/index": "7"}},
        ),
        (
            {"namespace": "other", "labels": {"team": "a"}},
            {"owner": "lab-ops"},
            {
                "name": "cm",
                "namespace": "other",
                "labels": {"team": "a", "owner": "lab-ops", "scalelab.io/set": "lab", "scalelab.io/index": "7"},
            },
        ),
        (
            {"labels": None},
            {"owner": "x"},
            {
                "name": "cm",
                "namespace": "ns-a",
                "labels": {"owner": "x", "scalelab.io/set": "lab", "scalelab.io/index": "7"},
            },
        ),
        (
            # extra labels override the template's, the set's own labels override both
            {"labels": {"owner": "tpl", "scalelab.io/set": "spoof", "scalelab.io/index": "99"}},
            {"owner": "extra", "scalelab.io/set": "spoof2"},
            {
                "name": "cm",
                "namespace": "ns-a",
                "labels": {"owner": "extra", "scalelab.io/set": "lab", "scalelab.io/index": "7"},
            },
        ),
        (
            {"namespace": "${CLUSTER_NAME}", "labels": {"cluster.x-k8s.io/cluster-name": "${CLUSTER_NAME}"}},
            {},
            {
                "name": "cm",
                "namespace": "c-0007",
                "labels": {
                    "cluster.x-k8s.io/cluster-name": "c-0007",
                    "scalelab.io/set": "lab",
                    "scalelab.io/index": "7",
                },
            },
        ),
    ],
)
def test_renderer_metadata(metadata, extra_labels, expected_metadata):
    (got,) = clusters.Renderer([_doc("v", **metadata)], {}, "lab", extra_labels).render(M7)
    assert got["metadata"] == expected_metadata


def test_renderer_doc_without_metadata_gets_one():
    docs = [{"apiVersion": "v1", "kind": "ConfigMap"}]
    (got,) = clusters.Renderer(docs, {}, "s", {}).render(Member(1, "c-1", "n"))
    assert got["metadata"] == {"namespace": "n", "labels": {"scalelab.io/set": "s", "scalelab.io/index": "1"}}


def test_renderer_members_are_independent_and_input_untouched():
    docs = [
        {
            "apiVersion": CORE,
            "kind": "Cluster",
            "metadata": {"name": "${CLUSTER_NAME}", "labels": {"team": "a"}},
            "spec": {"replicas": "${CP}"},
        },
        _doc("${CLUSTER_NAME}-md"),
    ]
    before = copy.deepcopy(docs)
    variables = {"CP": 3}
    extra = {"owner": "x"}
    r = clusters.Renderer(docs, variables, "lab", extra)
    variables["CP"] = 5  # the renderer keeps its own copies
    extra["owner"] = "y"
    first = r.render(Member(1, "c-0001", "ns"))
    second = r.render(Member(2, "c-0002", "ns"))
    assert docs == before
    assert [d["metadata"]["name"] for d in first] == ["c-0001", "cm"]
    assert first[1]["data"]["v"] == "c-0001-md"
    assert second[1]["data"]["v"] == "c-0002-md"
    assert first[0]["spec"]["replicas"] == 3
    assert first[0]["metadata"]["labels"] == {
        "team": "a",
        "owner": "x",
        "scalelab.io/set": "lab",
        "scalelab.io/index": "1",
    }
    assert second[0]["metadata"]["labels"]["scalelab.io/index"] == "2"


@pytest.mark.parametrize(
    ("name", "index", "extra", "expected_labels"),
    [
        ("lab", None, {}, {"scalelab.io/set": "lab"}),
        ("c-0003", 3, {"owner": "x"}, {"owner": "x", "scalelab.io/set": "lab", "scalelab.io/index": "3"}),
        ("c-0000", 0, {"scalelab.io/set": "spoof"}, {"scalelab.io/set": "lab", "scalelab.io/index": "0"}),
    ],
)
def test_namespace_object(name, index, extra, expected_labels):
    assert clusters.namespace_object(name, "lab", index, extra) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": expected_labels},
    }


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"kind": "Cluster", "metadata": {"name": "c-1", "namespace": "ns"}}, ("Cluster", "ns", "c-1")),
        ({"kind": "ConfigMap", "metadata": {"name": "cm"}}, ("ConfigMap", "", "cm")),
        ({"kind": "Namespace", "metadata": {"name": "ns"}}, ("Namespace", "", "ns")),
        ({"kind": "Namespace", "metadata": {"name": "ns", "namespace": "ns"}}, ("Namespace", "", "ns")),
        (clusters.namespace_object("n1", "lab", 1, {}), ("Namespace", "", "n1")),
    ],
)
def test_key(obj, expected):
    assert clusters.key(obj) == expected


def test_key_matches_rendered_and_listed_objects():
    (rendered,) = clusters.Renderer([_doc("v")], {}, "lab", {}).render(M7)
    listed = {"kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "ns-a", "resourceVersion": "12"}}
    assert clusters.key(rendered) == clusters.key(listed) == ("ConfigMap", "ns-a", "cm")


FARM_A = {"host": "10.0.0.1", "port_min": 30000, "port_max": 30002}
FARM_B = {"host": "10.0.0.2", "port_min": 31000, "port_max": 31000}


@pytest.mark.parametrize(
    ("pool", "count", "expected"),
    [
        ([], 3, []),
        ([FARM_A], 0, []),
        ([FARM_A], 3, [("10.0.0.1", 30000), ("10.0.0.1", 30001), ("10.0.0.1", 30002)]),
        # Round-robin over farms: cluster 1 -> A, 2 -> B, 3 -> A's next port.
        ([FARM_A, FARM_B], 3, [("10.0.0.1", 30000), ("10.0.0.2", 31000), ("10.0.0.1", 30001)]),
    ],
)
def test_endpoints(pool, count, expected):
    assert clusters.endpoints(pool, count) == expected


@pytest.mark.parametrize(
    ("pool", "count", "match"),
    [
        ([FARM_A], 4, r"^count=4 needs more endpoints than endpoint_pool has \(10\.0\.0\.1 30000-30002 is full"),
        ([FARM_A, FARM_B], 4, r"10\.0\.0\.2 31000-31000 is full"),
        ([{"host": "h", "port_min": 5, "port_max": 4}], 1, r"^endpoint_pool\[0\]=.*port_min <= port_max"),
        ([{"host": "", "port_min": 1, "port_max": 4}], 1, r"^endpoint_pool\[0\]=.*needs host"),
        ([{"host": "h", "port_min": 1, "port_max": 70000}], 1, r"within 1-65535"),
        ([FARM_A, dict(FARM_A)], 1, r"^endpoint_pool\[1\]: host 10\.0\.0\.1 is already endpoint_pool\[0\]$"),
        (
            [{"host": "farm-1.example", "port_min": 1, "port_max": 4}],
            1,
            r"^endpoint_pool\[0\]\.host='farm-1\.example' must be an IP address \(the farm's\)$",
        ),
        ([{"host": "10.0.0.256", "port_min": 1, "port_max": 4}], 1, r"must be an IP address"),
    ],
)
def test_endpoints_rejects(pool, count, match):
    with pytest.raises(SetError, match=match):
        clusters.endpoints(pool, count)


def test_renderer_endpoints_per_member():
    doc = {
        "apiVersion": "v1",
        "kind": "X",
        "metadata": {"name": "${CLUSTER_NAME}"},
        "spec": {"host": "${CONTROL_PLANE_HOST}", "port": "${CONTROL_PLANE_PORT}"},
    }
    eps = clusters.endpoints([FARM_A, FARM_B], 3)
    r = clusters.Renderer([doc], {}, "lab", {}, eps)
    got = [r.render(Member(i, f"c-{i}", "ns"))[0]["spec"] for i in (1, 2, 3)]
    assert got == [
        {"host": "10.0.0.1", "port": 30000},
        {"host": "10.0.0.2", "port": 31000},
        {"host": "10.0.0.1", "port": 30001},
    ]


def test_renderer_endpoint_vars_need_a_pool():
    doc = {"apiVersion": "v1", "kind": "X", "metadata": {"name": "x"}, "spec": {"port": "${CONTROL_PLANE_PORT}"}}
    with pytest.raises(SetError, match=r"^template uses \$\{CONTROL_PLANE_PORT\}: set endpoint_pool"):
        clusters.Renderer([doc], {}, "lab", {})


_TOPO = {"spec": {"topology": {"version": "v1.35.4", "controlPlane": {"replicas": 1}, "classRef": {"name": "c"}}}}


@pytest.mark.parametrize(
    ("wanted", "found", "diffs"),
    [
        (_TOPO, _TOPO, []),
        (
            {"spec": {"topology": {"version": "v1.35.4", "controlPlane": {"replicas": 3}}}},
            _TOPO,
            ["spec.topology.controlPlane.replicas is 1, wanted 3"],
        ),
        (
            {"spec": {"topology": {"version": "v1.34.0", "classRef": {"name": "d"}}}},
            _TOPO,
            ['spec.topology.classRef.name is "c", wanted "d"', 'spec.topology.version is "v1.35.4", wanted "v1.34.0"'],
        ),
        # Worker pools compare by name and replicas: what Cluster API fills in (class, metadata) is no difference.
        (
            {
                "spec": {
                    "topology": {"workers": {"machineDeployments": [{"name": "md-0", "replicas": 2, "class": "w"}]}}
                }
            },
            {"spec": {"topology": {"workers": {"machineDeployments": [{"name": "md-0", "replicas": 2, "x": {}}]}}}},
            [],
        ),
        (
            {"spec": {"topology": {"workers": {"machineDeployments": [{"name": "md-0", "replicas": 2}]}}}},
            {"spec": {"topology": {"workers": {"machineDeployments": [{"name": "md-0", "replicas": 0}]}}}},
            [
                'spec.topology.workers.machineDeployments is [{"name": "md-0", "replicas": 0}], '
                'wanted [{"name": "md-0", "replicas": 2}]'
            ],
        ),
        # A template's KubeadmControlPlane and Metal3Cluster (ports rendered as text or numbers alike).
        ({"spec": {"replicas": 3, "version": "v1.29.0"}}, {"spec": {"replicas": 3, "version": "v1.29.0"}}, []),
        ({"spec": {"replicas": "3"}}, {"spec": {"replicas": 3}}, []),
        (
            {"spec": {"controlPlaneEndpoint": {"host": "127.0.0.1", "port": "30001"}}},
            {"spec": {"controlPlaneEndpoint": {"host": "127.0.0.1", "port": 30002}}},
            [
                'spec.controlPlaneEndpoint is {"host": "127.0.0.1", "port": 30002}, wanted {"host": "127.0.0.1", '
                '"port": "30001"}'
            ],
        ),
        ({"spec": {"version": "v1.29.0"}}, {"spec": {}}, ['spec.version is null, wanted "v1.29.0"']),
        ({"spec": {"paused": True}}, {"spec": {}}, []),  # not a shaping field
        # Upgraded by cluster_phase after it was created at the wanted version: the same set; created otherwise: not.
        (
            {"spec": {"topology": {"version": "v1.35.4"}}},
            {"metadata": {"annotations": {CREATED: "v1.35.4"}}, "spec": {"topology": {"version": "v1.35.5"}}},
            [],
        ),
        (
            {"spec": {"topology": {"version": "v1.35.4"}}},
            {"metadata": {"annotations": {CREATED: "v1.34.0"}}, "spec": {"topology": {"version": "v1.35.5"}}},
            ['spec.topology.version is "v1.35.5", wanted "v1.35.4"'],
        ),
        # Scaled by cluster_phase after it was created with the wanted pools: the same set; created otherwise: not.
        (
            {"spec": {"topology": {"workers": {"machineDeployments": [{"name": "md-0", "replicas": 0}]}}}},
            {
                "metadata": {"annotations": {WORKERS: '[["md-0", "0"]]'}},
                "spec": {"topology": {"workers": {"machineDeployments": [{"name": "md-0", "replicas": 2}]}}},
            },
            [],
        ),
        (
            {"spec": {"topology": {"workers": {"machineDeployments": [{"name": "md-0", "replicas": 1}]}}}},
            {
                "metadata": {"annotations": {WORKERS: '[["md-0", "0"]]'}},
                "spec": {"topology": {"workers": {"machineDeployments": [{"name": "md-0", "replicas": 2}]}}},
            },
            [
                'spec.topology.workers.machineDeployments is [{"name": "md-0", "replicas": 2}], '
                'wanted [{"name": "md-0", "replicas": 1}]'
            ],
        ),
    ],
)
def test_shape_differences(wanted, found, diffs):
    assert clusters.shape_differences(wanted, found) == diffs


def test_renderer_defaults_in_a_clusterctl_template():
    """Unquoted in YAML, as clusterctl's templates write them: the YAML parser reads the placeholder as a string."""
    docs = list(
        yaml.safe_load_all(
            "kind: KubeadmControlPlane\nmetadata: {name: '${CLUSTER_NAME}'}\n"
            "spec:\n  replicas: ${CONTROL_PLANE_MACHINE_COUNT:=1}\n  version: ${KUBERNETES_VERSION:-v1.35.4}\n"
        )
    )
    (got,) = clusters.Renderer(docs, {"KUBERNETES_VERSION": ""}, "lab", {}).render(M7)
    assert got["spec"] == {"replicas": 1, "version": "v1.35.4"}
