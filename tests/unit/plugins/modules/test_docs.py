"""Each module's DOCUMENTATION matches its ARGUMENT_SPEC: names, types, defaults, choices, sorted.

The documentation compared is what ansible-doc shows: the module's own DOCUMENTATION with its doc fragments
(plugins/doc_fragments/) merged in by Ansible's own loader, in this process.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys

import pytest
import yaml

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
MODULES_DIR = os.path.join(ROOT, "plugins", "modules")
MODULES = sorted(f[:-3] for f in os.listdir(MODULES_DIR) if f.endswith(".py") and not f.startswith("_"))
FRAGMENTS_DIR = os.path.join(ROOT, "plugins", "doc_fragments")
FRAGMENTS = sorted(f[:-3] for f in os.listdir(FRAGMENTS_DIR) if f.endswith(".py") and not f.startswith("_"))
# Fragments of attributes only (no options, no argument spec).
ATTRIBUTE_FRAGMENTS = ["attributes"]
COLLECTION = "ansible_collections.scalelab.capi"
# The argument spec each fragment documents (the module_utils module and its name).
FRAGMENT_SPECS = {
    "bulk": ("plugins.module_utils.sets.options", "BULK_ARGUMENT_SPEC"),
    "kube": ("plugins.module_utils.kube.client", "KUBE_ARGUMENT_SPEC"),
    "stall": ("plugins.module_utils.sets.waiters", "STALL_ARGUMENT_SPEC"),
    "window": ("plugins.module_utils.observe.prometheus", "WINDOW_ARGUMENT_SPEC"),
}


def _collection_modules() -> list[str]:
    return [k for k in sys.modules if k == "ansible_collections" or k.startswith("ansible_collections.")]


@contextlib.contextmanager
def ansible_collection_loader():
    """Ansible's collection loader as ansible-doc configures it, this checkout first on the collections path (as
    ANSIBLE_COLLECTIONS_PATH=.collections), for the block only.

    The finder reads a collection's meta/runtime.yml only into packages it imports itself, so the collection's
    modules imported the plain way (sys.path, tests/conftest.py) by other tests are set aside meanwhile and put back
    after, with the finder removed: the other tests of the session keep the modules they imported.
    """
    from ansible.plugins.loader import init_plugin_loader
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    plain = {k: sys.modules.pop(k) for k in _collection_modules()}
    try:
        init_plugin_loader([os.path.join(ROOT, ".collections")])
        yield
    finally:
        _AnsibleCollectionFinder._remove()
        for k in _collection_modules():
            del sys.modules[k]
        sys.modules.update(plain)


@pytest.fixture(scope="module")
def resolved_docs() -> dict[str, dict | Exception]:
    """Every module's documentation as ansible-doc shows it: its fragments merged by Ansible's own loaders
    (ansible.utils.plugin_docs.get_plugin_docs, the function ansible-doc calls), in this process."""
    from ansible.plugins.loader import fragment_loader, module_loader
    from ansible.utils.plugin_docs import get_plugin_docs

    docs: dict[str, dict | Exception] = {}
    with ansible_collection_loader():
        for name in MODULES:
            try:
                doc = get_plugin_docs(f"scalelab.capi.{name}", "module", module_loader, fragment_loader, False)
                docs[name] = doc[0]
            except Exception as e:  # raised again by this module's test, so the others still run
                docs[name] = e
    return docs


def spec_of(fragment: str) -> dict:
    mod, attr = FRAGMENT_SPECS[fragment]
    return getattr(importlib.import_module(f"{COLLECTION}.{mod}"), attr)


def check_option(opt: str, d: dict, spec: dict) -> None:
    assert d.get("type", "str") == spec.get("type", "str"), opt
    assert d.get("default") == spec.get("default"), opt
    assert d.get("required", False) == spec.get("required", False), opt
    assert d.get("choices") == spec.get("choices"), opt
    assert d.get("description"), opt


@pytest.mark.parametrize("name", MODULES)
def test_documentation_matches_argument_spec(name, resolved_docs):
    mod = importlib.import_module(f"{COLLECTION}.plugins.modules.{name}")
    own = yaml.safe_load(mod.DOCUMENTATION)
    assert own["module"] == name
    assert list(own["options"]) == sorted(own["options"]), "options must be sorted"
    doc = resolved_docs[name]
    if isinstance(doc, Exception):
        raise doc
    # This checkout's module, not a copy installed elsewhere on the collections path.
    assert os.path.realpath(doc["filename"]) == os.path.join(MODULES_DIR, f"{name}.py"), doc["filename"]
    assert doc["module"] == name
    options = doc["options"]
    assert sorted(options) == sorted(mod.ARGUMENT_SPEC)
    for opt, spec in mod.ARGUMENT_SPEC.items():
        check_option(opt, options[opt], spec)
    for line in [doc["description"]] if isinstance(doc["description"], str) else doc["description"]:
        assert isinstance(line, str), f"a description line parsed as {line!r}: a colon and a space in plain text"
    assert yaml.safe_load(mod.EXAMPLES), "EXAMPLES must not be empty"
    assert yaml.safe_load(mod.RETURN)


@pytest.mark.parametrize("name", MODULES)
def test_shared_options_documented_once(name):
    """A module whose spec spreads a shared spec extends its fragment and does not copy the fragment's options."""
    mod = importlib.import_module(f"{COLLECTION}.plugins.modules.{name}")
    own = yaml.safe_load(mod.DOCUMENTATION)
    extends = own.get("extends_documentation_fragment") or []
    for fragment in FRAGMENT_SPECS:
        shared = spec_of(fragment)
        if all(mod.ARGUMENT_SPEC.get(opt) == spec for opt, spec in shared.items()):
            assert f"scalelab.capi.{fragment}" in extends, f"{name} takes every option of {fragment}: extend it"
        if f"scalelab.capi.{fragment}" in extends:
            # Documented here as well only where this module's spec differs from the shared one.
            copied = [o for o in own["options"] if o in shared and mod.ARGUMENT_SPEC.get(o) == shared[o]]
            assert not copied, f"{name} documents {copied} again: they come from scalelab.capi.{fragment}"


def test_fragments_match_their_argument_specs():
    assert sorted([*FRAGMENT_SPECS, *ATTRIBUTE_FRAGMENTS]) == FRAGMENTS, "every options fragment names its spec"
    for fragment in FRAGMENT_SPECS:
        cls = importlib.import_module(f"{COLLECTION}.plugins.doc_fragments.{fragment}").ModuleDocFragment
        options = yaml.safe_load(cls.DOCUMENTATION)["options"]
        assert list(options) == sorted(options), f"{fragment}: options must be sorted"
        spec = spec_of(fragment)
        assert sorted(options) == sorted(spec), fragment
        for opt, s in spec.items():
            check_option(f"{fragment}.{opt}", options[opt], s)


@pytest.mark.parametrize("name", MODULES)
def test_check_and_diff_support_is_stated_as_attributes(name, resolved_docs):
    """community.general's convention: `attributes:` (action_common_attributes), not a sentence in `notes:`; the
    stated check mode support is the module's supports_check_mode."""
    doc = resolved_docs[name]
    if isinstance(doc, Exception):
        raise doc
    attrs = doc.get("attributes") or {}
    assert {"check_mode", "diff_mode", "platform"} <= set(attrs), attrs
    with open(os.path.join(MODULES_DIR, f"{name}.py")) as f:
        source = f.read()
    declared = "supports_check_mode=True" in source
    assert (attrs["check_mode"]["support"] == "full") == declared, attrs["check_mode"]
    assert not any("check mode" in n.lower() for n in doc.get("notes") or []), doc["notes"]


def test_action_groups_hold_every_module_and_the_kube_group_only_modules_with_the_kube_options():
    """module_defaults for group/scalelab.capi.kube give kubeconfig and context to each member: a member without
    them fails every play that sets those defaults (scale_sizing did, listed there by mistake)."""
    with open(os.path.join(ROOT, "meta", "runtime.yml")) as f:
        groups = yaml.safe_load(f)["action_groups"]
    assert sorted(groups["all"]) == MODULES
    kube = set(spec_of("kube"))
    takes_kube = [
        m for m in MODULES if kube <= set(importlib.import_module(f"{COLLECTION}.plugins.modules.{m}").ARGUMENT_SPEC)
    ]
    # lab_audit is left out on purpose (runtime.yml says why)
    assert sorted(groups["kube"]) == [m for m in takes_kube if m != "lab_audit"]
