from __future__ import annotations

import copy

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.lab import components
from ansible_collections.scalelab.capi.plugins.module_utils.lab.components import ComponentsError

URL = "https://127.0.0.1:9400"
CA = "UEVN"  # base64 of b"PEM"
INJECT = "cert-manager.io/inject-ca-from"
SERVICE = {"name": "capi-webhook-service", "namespace": "capi-system"}

GENERATED = {"controller-gen.kubebuilder.io/version": "v0.18.0"}


def capi_crd(annotations, client_config, **metadata):
    """cluster-api's clusters CRD with these annotations (and metadata) and this conversion webhook clientConfig."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": "clusters.cluster.x-k8s.io",
            **metadata,
            "annotations": dict(annotations),
            "labels": {"cluster.x-k8s.io/provider": "cluster-api"},
        },
        "spec": {
            "group": "cluster.x-k8s.io",
            "conversion": {
                "strategy": "Webhook",
                "webhook": {"conversionReviewVersions": ["v1", "v1beta1"], "clientConfig": client_config},
            },
        },
    }


def validation_hook(name, client_config):
    return {"name": name, "admissionReviewVersions": ["v1"], "sideEffects": "None", "clientConfig": client_config}


CRD_CONVERTED = capi_crd(
    {INJECT: "capi-system/capi-serving-cert", **GENERATED},
    {"caBundle": "Cg==", "service": {**SERVICE, "path": "/convert"}},
    creationTimestamp=None,
)
CRD_PLAIN = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "ipaddresses.ipam.cluster.x-k8s.io"},
    "spec": {"group": "ipam.cluster.x-k8s.io", "scope": "Namespaced"},
}
VALIDATING = {
    "apiVersion": "admissionregistration.k8s.io/v1",
    "kind": "ValidatingWebhookConfiguration",
    "metadata": {"name": "capi-validating-webhook-configuration", "annotations": {INJECT: "capi-system/cert"}},
    "webhooks": [
        validation_hook(
            "validation.cluster.cluster.x-k8s.io",
            {"service": {**SERVICE, "path": "/validate-cluster-x-k8s-io-v1beta2-cluster"}},
        ),
        validation_hook(
            "validation.machine.cluster.x-k8s.io",
            {"service": {**SERVICE, "path": "/validate-cluster-x-k8s-io-v1beta2-machine"}},
        ),
    ],
}
MUTATING = {
    "apiVersion": "admissionregistration.k8s.io/v1",
    "kind": "MutatingWebhookConfiguration",
    "metadata": {"name": "capi-mutating-webhook-configuration", "annotations": {INJECT: "capi-system/cert"}},
    "webhooks": [
        {
            "name": "default.cluster.cluster.x-k8s.io",
            "clientConfig": {"service": {**SERVICE, "path": "/mutate-cluster-x-k8s-io-v1beta2-cluster"}},
        }
    ],
}
DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "capi-controller-manager", "namespace": "capi-system"},
    "spec": {"replicas": 1},
}
SERVICE_DOC = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "capi-webhook-service", "namespace": "capi-system"},
    "spec": {"ports": [{"port": 443, "targetPort": 9443}]},
}
CERTIFICATE = {
    "apiVersion": "cert-manager.io/v1",
    "kind": "Certificate",
    "metadata": {"name": "capi-serving-cert", "namespace": "capi-system"},
    "spec": {"secretName": "capi-webhook-service-cert"},
}
ALL = [DEPLOYMENT, CRD_CONVERTED, SERVICE_DOC, CRD_PLAIN, VALIDATING, CERTIFICATE, MUTATING]

EXPECTED = [
    capi_crd(GENERATED, {"url": "https://127.0.0.1:9400/convert", "caBundle": CA}),
    {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "ipaddresses.ipam.cluster.x-k8s.io", "annotations": {}},
        "spec": {"group": "ipam.cluster.x-k8s.io", "scope": "Namespaced"},
    },
    {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "capi-validating-webhook-configuration", "annotations": {}},
        "webhooks": [
            validation_hook(
                "validation.cluster.cluster.x-k8s.io",
                {"url": "https://127.0.0.1:9400/validate-cluster-x-k8s-io-v1beta2-cluster", "caBundle": CA},
            ),
            validation_hook(
                "validation.machine.cluster.x-k8s.io",
                {"url": "https://127.0.0.1:9400/validate-cluster-x-k8s-io-v1beta2-machine", "caBundle": CA},
            ),
        ],
    },
    {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "capi-mutating-webhook-configuration", "annotations": {}},
        "webhooks": [
            {
                "name": "default.cluster.cluster.x-k8s.io",
                "clientConfig": {
                    "url": "https://127.0.0.1:9400/mutate-cluster-x-k8s-io-v1beta2-cluster",
                    "caBundle": CA,
                },
            }
        ],
    },
]


@pytest.mark.parametrize("url", [URL, URL + "/", URL + "//"])
def test_rewrite_keeps_crds_and_webhooks_pointed_at_url(url):
    docs = copy.deepcopy(ALL)
    assert components.rewrite(docs, url, b"PEM") == EXPECTED
    assert docs == ALL  # the input is not mutated


def test_rewrite_returns_copies():
    out = components.rewrite(ALL, URL, b"PEM")
    out[2]["webhooks"][0]["name"] = "changed"
    out[1]["metadata"]["annotations"]["a"] = "b"
    assert VALIDATING["webhooks"][0]["name"] == "validation.cluster.cluster.x-k8s.io"
    assert "annotations" not in CRD_PLAIN["metadata"]


@pytest.mark.parametrize(
    ("ca_pem", "ca"),
    [
        (b"PEM", "UEVN"),
        (b"", ""),
        (b"-----BEGIN CERTIFICATE-----\n", "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="),
    ],
)
def test_rewrite_ca_bundle_is_base64(ca_pem, ca):
    (crd,) = components.rewrite([CRD_CONVERTED], URL, ca_pem)
    assert crd["spec"]["conversion"]["webhook"]["clientConfig"]["caBundle"] == ca


def _crd(conversion):
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "x.example.com"},
        "spec": {"group": "example.com", **({} if conversion is ... else {"conversion": conversion})},
    }


@pytest.mark.parametrize(
    ("conversion", "expected"),
    [
        (..., ...),  # no conversion: untouched
        (None, None),
        ({"strategy": "None"}, {"strategy": "None"}),
        (
            {"strategy": "Webhook"},  # no webhook section yet: one is made with the default /convert
            {"strategy": "Webhook", "webhook": {"clientConfig": {"url": URL + "/convert", "caBundle": CA}}},
        ),
        (
            {"strategy": "Webhook", "webhook": {"clientConfig": None}},
            {"strategy": "Webhook", "webhook": {"clientConfig": {"url": URL + "/convert", "caBundle": CA}}},
        ),
        (
            {"strategy": "Webhook", "webhook": {"clientConfig": {"service": {"name": "s", "namespace": "n"}}}},
            {"strategy": "Webhook", "webhook": {"clientConfig": {"url": URL + "/convert", "caBundle": CA}}},
        ),
        (
            {"strategy": "Webhook", "webhook": {"clientConfig": {"service": {"name": "s", "path": "/conv/v2"}}}},
            {"strategy": "Webhook", "webhook": {"clientConfig": {"url": URL + "/conv/v2", "caBundle": CA}}},
        ),
        (
            {"strategy": "Webhook", "webhook": {"clientConfig": {"url": "https://old:443/convert", "caBundle": "X"}}},
            {"strategy": "Webhook", "webhook": {"clientConfig": {"url": URL + "/convert", "caBundle": CA}}},
        ),
    ],
)
def test_rewrite_crd_conversion(conversion, expected):
    (crd,) = components.rewrite([_crd(conversion)], URL, b"PEM")
    if expected is ...:
        assert "conversion" not in crd["spec"]
    else:
        assert crd["spec"]["conversion"] == expected


@pytest.mark.parametrize(
    ("webhooks", "expected"),
    [
        (None, None),
        ([], []),
        ([{"name": "a"}], [{"name": "a", "clientConfig": {"url": URL + "/", "caBundle": CA}}]),
        (
            [{"name": "a", "clientConfig": {"service": {"name": "s", "path": "/validate-a"}, "caBundle": "old"}}],
            [{"name": "a", "clientConfig": {"url": URL + "/validate-a", "caBundle": CA}}],
        ),
    ],
)
def test_rewrite_webhook_client_configs(webhooks, expected):
    hooks = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "v", "creationTimestamp": "2026-01-01T00:00:00Z", "annotations": None},
        "webhooks": webhooks,
    }
    _dummy, got = components.rewrite([CRD_PLAIN, hooks], URL, b"PEM")
    assert got["webhooks"] == expected
    assert got["metadata"] == {"name": "v", "annotations": {}}


@pytest.mark.parametrize(
    "docs",
    [
        [],
        [DEPLOYMENT, SERVICE_DOC, CERTIFICATE],
        [VALIDATING, MUTATING],
        [{"kind": "customresourcedefinition", "metadata": {"name": "x"}}],
        [{"metadata": {"name": "no-kind"}}],
    ],
)
def test_rewrite_without_crd_fails(docs):
    with pytest.raises(ComponentsError, match="^the rendered configuration holds no CustomResourceDefinition$"):
        components.rewrite(docs, URL, b"PEM")


# BMO's CRDs: no conversion webhook, no webhook configuration (their webhooks are off in scalelab labs).
BMH_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "baremetalhosts.metal3.io", "annotations": {"controller-gen.kubebuilder.io/version": "v0"}},
    "spec": {"group": "metal3.io", "scope": "Namespaced"},
}


@pytest.mark.parametrize(
    "docs",
    [
        [BMH_CRD],
        [DEPLOYMENT, BMH_CRD, CRD_PLAIN, SERVICE_DOC],
        [_crd(...), _crd(None), _crd({"strategy": "None"})],
        [BMH_CRD, {**VALIDATING, "webhooks": []}, {**MUTATING, "webhooks": None}],  # configurations without hooks
    ],
)
@pytest.mark.parametrize(("url", "ca_pem"), [(None, None), (URL, None), (None, b"PEM"), ("", b"PEM")])
def test_rewrite_without_webhooks_needs_no_url_or_ca(docs, url, ca_pem):
    before = copy.deepcopy(docs)
    out = components.rewrite(docs, url, ca_pem)
    assert [d["metadata"]["name"] for d in out] == [
        d["metadata"]["name"] for d in docs if d.get("kind") in components.KEPT
    ]
    assert "clientConfig" not in str(out)
    assert docs == before


def test_rewrite_without_webhooks_same_as_with_url():
    assert components.rewrite([BMH_CRD, CRD_PLAIN], None, None) == components.rewrite([BMH_CRD, CRD_PLAIN], URL, b"PEM")


@pytest.mark.parametrize(
    "docs",
    [
        [CRD_CONVERTED],
        [BMH_CRD, VALIDATING],
        [BMH_CRD, MUTATING],
        [_crd({"strategy": "Webhook"})],
        [BMH_CRD, {**VALIDATING, "webhooks": [{"name": "v.metal3.io"}]}],
    ],
)
@pytest.mark.parametrize(("url", "ca_pem"), [(None, None), (URL, None), (None, b"PEM"), ("", b"PEM")])
def test_rewrite_webhooks_without_url_or_ca_fail(docs, url, ca_pem):
    with pytest.raises(
        ComponentsError, match=r"^the rendered configuration has webhooks: webhook_url and ca_file are required$"
    ):
        components.rewrite(docs, url, ca_pem)


class _CRDReads:
    """Successive reads of one CRD as the apiserver answers them right after its creation."""

    def __init__(self, statuses):
        self.statuses = list(statuses)

    def get_json(self, path):
        return {"metadata": {"name": path.rsplit("/", 1)[1]}, **self.statuses.pop(0)}


@pytest.mark.parametrize(
    "first",
    [{}, {"status": None}, {"status": {}}, {"status": {"conditions": None}}, {"status": {"conditions": []}}],
)
def test_wait_established_reads_a_crd_not_yet_given_conditions(first):
    # Seen with two labs converging at once: a CRD read between its creation and its first status update.
    established = {"status": {"conditions": [{"type": "Established", "status": "True"}]}}
    reads = _CRDReads([first, established])
    assert components.wait_established(reads, ["ippools.ipam.metal3.io"], timeout=5) == []
    assert reads.statuses == []
