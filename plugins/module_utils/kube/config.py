# Copyright: scalelab contributors
# Apache-2.0
"""Kubeconfigs read as kubectl and kubernetes.core read them, for the client's fast path (module_utils/kube/client.py).

A list of files (KUBECONFIG style, ':'-separated) is merged the way kubectl merges it: the first file that names a
cluster, context or user wins, and so does the first current-context; relative paths resolve against the file that
names them. Credentials: inline or file certificates, a token or tokenFile, a username and password, and the
`exec` and `auth-provider` plugins (cloud clusters: EKS, GKE, AKS), which run through the kubernetes client's own
loader - imported only then, so the common case costs no import. An exec credential with an expiry is fetched again
shortly before it expires.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
import time
from dataclasses import dataclass, field

from ansible_collections.scalelab.capi.plugins.module_utils.errors import ScalelabError

try:
    import yaml
except ImportError:  # pragma: no cover - reported by the module via missing_required_lib
    yaml = None

# Where a module looks when its kubeconfig option is empty, in order (kubernetes.core's K8S_AUTH_KUBECONFIG first).
ENV_VARS = ("K8S_AUTH_KUBECONFIG", "KUBECONFIG")
DEFAULT_PATH = "~/.kube/config"
# Fields holding a path, per section, resolved against the file that names them.
_PATHS = {
    "clusters": ("certificate-authority",),
    "users": ("client-certificate", "client-key", "tokenFile"),
}
# Seconds before an exec credential's expiry at which it is fetched again.
REFRESH_MARGIN = 60.0


class KubeconfigError(ScalelabError, ValueError):
    """What is wrong with the kubeconfig; the client prefixes `kubeconfig=<path>: `."""


def resolve(kubeconfig: str, environ=None) -> str:
    """The kubeconfig option, else $K8S_AUTH_KUBECONFIG, else $KUBECONFIG, else ~/.kube/config."""
    if kubeconfig:
        return kubeconfig
    environ = os.environ if environ is None else environ
    for var in ENV_VARS:
        if environ.get(var):
            return environ[var]
    return os.path.expanduser(DEFAULT_PATH)


def merged(kubeconfig: str) -> dict:
    """One kubeconfig dict from a ':'-separated list of files (missing ones skipped when there are several)."""
    paths = [os.path.abspath(os.path.expanduser(p)) for p in kubeconfig.split(os.pathsep) if p]
    present = [p for p in paths if os.path.isfile(p)]
    if not present:
        raise KubeconfigError("no such file")
    out: dict = {"clusters": [], "contexts": [], "users": [], "current-context": ""}
    for path in present:
        try:
            with open(path) as f:
                cfg = yaml.safe_load(f) or {}
        except (OSError, yaml.YAMLError) as e:
            raise KubeconfigError(f"cannot read {path if len(present) > 1 else 'it'}: {e}") from e
        if not isinstance(cfg, dict):
            raise KubeconfigError(f"{path if len(present) > 1 else 'it'} is not a kubeconfig (a YAML mapping)")
        out["current-context"] = out["current-context"] or cfg.get("current-context") or ""
        base = os.path.dirname(path)
        for section in ("clusters", "contexts", "users"):
            names = {item.get("name") for item in out[section]}
            for item in cfg.get(section) or []:
                if item.get("name") in names:
                    continue
                out[section].append(_absolute(section, item, base))
    return out


def _absolute(section: str, item: dict, base: str) -> dict:
    key = section[:-1]  # clusters -> cluster
    body = dict(item.get(key) or {})
    for name in _PATHS.get(section, ()):
        if body.get(name):
            body[name] = os.path.join(base, os.path.expanduser(body[name]))
    if section == "users" and isinstance(body.get("exec"), dict):
        command = body["exec"].get("command", "")
        if os.sep in command and not os.path.isabs(command):  # kubectl: relative to the kubeconfig's directory
            body["exec"] = {**body["exec"], "command": os.path.join(base, command)}
    return {**item, key: body}


def named(items: list, name: str, what: str, optional: bool = False) -> dict:
    for item in items or []:
        if item.get("name") == name:
            return item.get(what) or {}
    if optional:
        return {}
    raise KubeconfigError(f"no {what} named {name!r}")


@dataclass
class Credentials:
    """A user's credentials as the client uses them: a client certificate and key (paths) and/or a header."""

    cert: tuple[str, str] | None = None
    authorization: str = ""
    # An exec plugin's credential that expires: (fetch again, its expiry as a Unix time).
    _refresh: object = None
    _expires: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def header(self) -> str:
        """The Authorization header, fetched again first when an exec credential is about to expire."""
        if self._refresh is not None and time.time() > self._expires - REFRESH_MARGIN:
            with self._lock:
                if time.time() > self._expires - REFRESH_MARGIN:
                    self.authorization, self._expires = self._refresh()
        return self.authorization

    @property
    def refreshes(self) -> bool:
        return self._refresh is not None


def credentials(cfg: dict, context_name: str, user: dict, material, tmp: str) -> Credentials:
    """The context's user's credentials (cfg: merged()); material(section, key, filename) writes inline data to
    tmp or resolves a path."""
    if user.get("exec") or user.get("auth-provider"):
        return _plugin(cfg, context_name, tmp)
    cert = material(user, "client-certificate", "client.crt")
    key = material(user, "client-key", "client.key")
    creds = Credentials(cert=(cert, key) if cert and key else None)
    if user.get("token"):
        creds.authorization = f"Bearer {user['token']}"
    elif user.get("tokenFile"):
        try:
            with open(user["tokenFile"]) as f:
                creds.authorization = f"Bearer {f.read().strip()}"
        except OSError as e:
            raise KubeconfigError(f"tokenFile {user['tokenFile']}: {e.strerror}") from e
    elif user.get("username") and user.get("password"):
        basic = base64.b64encode(f"{user['username']}:{user['password']}".encode()).decode()
        creds.authorization = f"Basic {basic}"
    return creds


def _plugin(cfg: dict, context_name: str, tmp: str) -> Credentials:
    """exec / auth-provider credentials through the kubernetes client's loader (what kubernetes.core uses)."""
    user_name = named(cfg["contexts"], context_name, "context").get("user")
    try:
        from kubernetes.config.config_exception import ConfigException
        from kubernetes.config.kube_config import KubeConfigLoader
    except ImportError as e:
        raise KubeconfigError(
            f"user {user_name!r} uses an exec or auth-provider plugin, which needs the kubernetes Python "
            "library (pip install kubernetes)"
        ) from e
    said = _Said()
    logging.getLogger().addHandler(said)  # the loader logs a plugin's failure (logging.error) and goes on
    try:
        loader = KubeConfigLoader(config_dict=cfg, active_context=context_name, config_base_path="", temp_file_path=tmp)
        # Its public load_and_set would read the cluster as well (ours already is) into a Configuration.
        loader._load_authentication()  # noqa: SLF001
    except ConfigException as e:
        raise KubeconfigError(f"user {user_name!r}: {e}") from e
    finally:
        logging.getLogger().removeHandler(said)
    creds = Credentials()
    if getattr(loader, "cert_file", None) and getattr(loader, "key_file", None):
        creds.cert = (loader.cert_file, loader.key_file)
    creds.authorization = getattr(loader, "token", "") or ""
    expiry = getattr(loader, "expiry", None)
    if creds.authorization and expiry is not None:

        def refresh() -> tuple[str, float]:
            loader._load_authentication()  # noqa: SLF001
            return loader.token, loader.expiry.timestamp()

        creds._refresh, creds._expires = refresh, expiry.timestamp()
    if not creds.authorization and creds.cert is None:
        # The loader logs a failed plugin run and goes on without credentials; say so instead of a later 401.
        why = f": {said.lines[-1]}" if said.lines else ""
        raise KubeconfigError(f"user {user_name!r}: its exec or auth-provider plugin gave no credentials{why}")
    return creds


class _Said(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(" ".join(record.getMessage().split())[:300])
