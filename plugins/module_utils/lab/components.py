# Copyright: scalelab contributors
# Apache-2.0
"""A provider's CRDs and webhook configurations for managers that run as host processes (the envtest way).

Upstream's config/default deploys a Deployment behind a Service with cert-manager injecting the CA. Our managers
are processes on the host, so we keep only the CustomResourceDefinitions and the webhook configurations and point
every clientConfig (conversion, validating, mutating) at https://<address>:<port><path> with our CA.
"""

from __future__ import annotations

import base64
import copy
import subprocess

try:
    import yaml
except ImportError:  # pragma: no cover
    yaml = None

from ansible_collections.scalelab.capi.plugins.module_utils.errors import ScalelabError
from ansible_collections.scalelab.capi.plugins.module_utils.kube.client import KubeClient, KubeError, dumps
from ansible_collections.scalelab.capi.plugins.module_utils.sets.waiters import wait_until

KEPT = {
    "CustomResourceDefinition": "apiextensions.k8s.io/v1",
    "MutatingWebhookConfiguration": "admissionregistration.k8s.io/v1",
    "ValidatingWebhookConfiguration": "admissionregistration.k8s.io/v1",
}
_CERT_MANAGER_ANNOTATION = "cert-manager.io/inject-ca-from"
FIELD_MANAGER = "scalelab"


class ComponentsError(ScalelabError):
    pass


def render(kubectl: str, kustomize_dir: str, timeout: int = 120) -> list[dict]:
    """`kubectl kustomize <dir>`: offline, from the Go module cache."""
    try:
        proc = subprocess.run(
            [kubectl, "kustomize", kustomize_dir], capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError as e:
        raise ComponentsError(f"kubectl={kubectl}: no such executable") from e
    if proc.returncode != 0:
        raise ComponentsError(f"kustomize_dir={kustomize_dir}: kubectl kustomize failed: {proc.stderr.strip()[-800:]}")
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def rewrite(docs: list[dict], url: str | None, ca_pem: bytes | None) -> list[dict]:
    """Keep CRDs and webhook configurations; every clientConfig -> url + path, caBundle = our CA.

    url and ca_pem may be None for a configuration without webhooks (BMO's CRDs); one with webhooks fails then.
    """
    ca = base64.b64encode(ca_pem).decode() if ca_pem is not None else None
    out = []
    for d in docs:
        if d.get("kind") not in KEPT:
            continue
        d = copy.deepcopy(d)
        annotations = d.get("metadata", {}).get("annotations") or {}
        annotations.pop(_CERT_MANAGER_ANNOTATION, None)
        d["metadata"]["annotations"] = annotations
        d["metadata"].pop("creationTimestamp", None)
        if d["kind"] == "CustomResourceDefinition":
            conv = d.get("spec", {}).get("conversion") or {}
            if conv.get("strategy") == "Webhook":
                hook = conv.setdefault("webhook", {})
                hook["clientConfig"] = _client_config(hook.get("clientConfig") or {}, url, ca, "/convert")
        else:
            for hook in d.get("webhooks") or []:
                hook["clientConfig"] = _client_config(hook.get("clientConfig") or {}, url, ca, "/")
        out.append(d)
    if not any(d["kind"] == "CustomResourceDefinition" for d in out):
        raise ComponentsError("the rendered configuration holds no CustomResourceDefinition")
    return out


def _client_config(cc: dict, url: str | None, ca: str | None, default_path: str) -> dict:
    if not url or ca is None:
        raise ComponentsError("the rendered configuration has webhooks: webhook_url and ca_file are required")
    path = (cc.get("service") or {}).get("path") or default_path
    return {"url": url.rstrip("/") + path, "caBundle": ca}


def apply(client: KubeClient, obj: dict, check: bool) -> bool:
    """Server-side apply; True when the live object changed (or would, in check mode)."""
    api_version = KEPT[obj["kind"]]
    obj = {**obj, "apiVersion": api_version}
    name = obj["metadata"]["name"]
    path = client.path(api_version, obj["kind"], name=name)
    before = client.request("GET", path, ok=(404,))
    old = before.json() if before.status_code == 200 else None
    params = {"fieldManager": FIELD_MANAGER, "force": "true"}
    if check:
        if old is None:
            return True
        params["dryRun"] = "All"
    resp = client.request(
        "PATCH", path, params=params, data=dumps(obj), headers={"Content-Type": "application/apply-patch+yaml"}
    )
    new = resp.json()
    if old is None:
        return True
    return _fingerprint(old) != _fingerprint(new)


def _fingerprint(o: dict) -> tuple:
    md = o.get("metadata", {})
    return md.get("generation"), md.get("labels"), md.get("annotations"), md.get("resourceVersion")


def wait_established(client: KubeClient, names: list[str], timeout: float) -> list[str]:
    """Wait until every CRD is Established; return those that are not at the timeout."""
    left = list(names)

    def pending() -> list[str]:
        still = []
        for name in left:
            path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
            # A CRD just created may read "conditions": null before the apiserver sets them.
            conds = (client.get_json(path).get("status") or {}).get("conditions") or []
            if not any(c.get("type") == "Established" and c.get("status") == "True" for c in conds):
                still.append(name)
        left[:] = still  # an Established CRD is not read again
        return left

    return wait_until(pending, timeout, 0.5)


def ensure(client: KubeClient, docs: list[dict], check: bool, timeout: float) -> tuple[bool, dict]:
    changed_objs = []
    for d in docs:
        try:
            if apply(client, d, check):
                changed_objs.append(f"{d['kind']}/{d['metadata']['name']}")
        except KubeError as e:
            raise ComponentsError(f"{d['kind']} {d['metadata']['name']}: {e}") from e
    crds = [d["metadata"]["name"] for d in docs if d["kind"] == "CustomResourceDefinition"]
    if not check:
        left = wait_established(client, crds, timeout)
        if left:
            raise ComponentsError(f"CRDs not Established within {timeout}s: {left}")
    return bool(changed_objs), {
        "crds": crds,
        "webhook_configurations": [d["metadata"]["name"] for d in docs if d["kind"] != "CustomResourceDefinition"],
        "changed_objects": changed_objs,
    }
