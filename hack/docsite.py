"""Build the collection's docsite offline: antsibull-docs (every module, plugin and role from its own docs) and
Sphinx with warnings as errors, plus the guides - prerequisites, quick start, labs, scenarios, reading a report,
troubleshooting - taken from README.md's sections at build time (m2r2), so the README stays their one source.

Usage: hack/docsite [DEST]   (default build/docsite; DEST/index.html is the start page)
Needs antsibull-docs, Sphinx, sphinx-ansible-theme and m2r2 (requirements.txt) and ansible-doc on PATH.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile

import m2r2
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LABEL = "ansible_collections.scalelab.capi.docsite"
# slug -> (title, README headings whose sections make the page, in order; a heading's section runs to the next
# heading of its level or higher)
GUIDES = {
    "prerequisites": ("Prerequisites and installation", ["Installing the collection into your own Ansible"]),
    "quick_start": ("Quick start", ["Quick start"]),
    "labs": ("Labs", ["Labs and inventories", "Observability", "Security defaults"]),
    "scenarios": ("Scenarios and knobs", ["The scale run's knobs", "Sweeps", "Faults, bad input and teardown"]),
    "reports": ("Reading a report", ["Runs: each one kept and comparable", "The report, SLO gates and a baseline"]),
    "troubleshooting": ("Troubleshooting", ["Troubleshooting"]),
}
# Labels of Ansible's own documentation the generated plugin pages refer to: offline there is no intersphinx, so a
# page of ours defines them, each linking to the page it stands for.
EXTERNAL = {
    "common_return_values": "https://docs.ansible.com/ansible/latest/reference_appendices/common_return_values.html",
    "action_plugins": "https://docs.ansible.com/ansible/latest/plugins/action.html",
    "ansible_configuration_settings": "https://docs.ansible.com/ansible/latest/reference_appendices/config.html",
}


def sections(markdown: str) -> dict[str, str]:
    """README heading text (without its parenthesised tail) -> its section's Markdown, sub-sections included."""
    lines = markdown.splitlines()
    heads, fence = [], False
    for i, line in enumerate(lines):
        fence ^= line.startswith("```")
        m = None if fence or line.startswith("```") else re.match(r"^(#{2,4}) (.+)$", line)
        if m:
            heads.append((i, len(m.group(1)), m.group(2)))
    out = {}
    for n, (i, level, text) in enumerate(heads):
        end = next((j for j, lv, _dummy in heads[n + 1 :] if lv <= level), len(lines))
        body = "\n".join(lines[i + 1 : end])
        out[re.sub(r"\s*\(.*\)$", "", text).strip()] = body
    return out


def guide(slug: str, title: str, parts: list[tuple[str, str]]) -> str:
    out = [f".. _{LABEL}.{slug}:", "", title, "=" * len(title), ""]
    for heading, body in parts:
        if len(parts) > 1:
            out += [heading, "-" * len(heading), ""]
        # Relative links of the README point into the repository, not the docsite: keep their text.
        body = re.sub(r"\[([^\]]+)\]\((?!https?://)[^)]*\)", r"\1", body)
        out.append(m2r2.convert(body))
    return "\n".join(out) + "\n"


def write_guides(readme: str, docsite: str) -> None:
    found = sections(readme)
    missing = [h for _dummy, heads in GUIDES.values() for h in heads if h not in found]
    if missing:
        sys.exit(f"hack/docsite: README.md has no section {', '.join(missing)} (GUIDES names it)")
    os.makedirs(os.path.join(docsite, "rst"))
    for slug, (title, heads) in GUIDES.items():
        with open(os.path.join(docsite, "rst", f"{slug}.rst"), "w") as f:
            f.write(guide(slug, title, [(h, found[h]) for h in heads]))
    extra = {"sections": [{"title": "Guides", "toctree": list(GUIDES)}]}
    with open(os.path.join(docsite, "extra-docs.yml"), "w") as f:
        yaml.safe_dump(extra, f, sort_keys=False)


def references() -> str:
    out = [":orphan:", "", "Ansible's own documentation", "=" * 27, ""]
    for label, url in EXTERNAL.items():
        name = label.replace("_", " ").capitalize()
        out += [f".. _{label}:", "", name, "-" * len(name), "", f"`{url} <{url}>`__", ""]
    return "\n".join(out)


def main() -> None:
    dest = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "docsite"))
    with tempfile.TemporaryDirectory(prefix="docsite-") as work:
        coll = os.path.join(work, "collections", "ansible_collections", "scalelab", "capi")
        tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        for path in filter(None, tracked.decode().split("\0")):
            if os.path.isfile(os.path.join(ROOT, path)) and not path.startswith("docs/docsite/"):
                os.makedirs(os.path.join(coll, os.path.dirname(path)), exist_ok=True)
                shutil.copy2(os.path.join(ROOT, path), os.path.join(coll, path))
        with open(os.path.join(ROOT, "README.md")) as f:
            write_guides(f.read(), os.path.join(coll, "docs", "docsite"))
        site = os.path.join(work, "site")
        os.mkdir(site, 0o755)  # antsibull-docs refuses a directory others may write
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(work, "collections"))
        run = dict(cwd=work, env=env)
        subprocess.run(
            ["antsibull-docs", "sphinx-init", "--use-current", "--dest-dir", site, "scalelab.capi"], **run, check=True
        )
        with open(os.path.join(site, "conf.py"), "a") as f:
            f.write("\n# Offline: no inventories to fetch (ansible-references.rst defines the labels used).\n")
            f.write("intersphinx_mapping = {}\n")
        rst = os.path.join(site, "rst")
        os.chmod(rst, 0o755)  # sphinx-init made it; antsibull-docs wants it writable by its owner only
        # build.sh's two steps, with the labels page between them (antsibull-docs would refuse its labels)
        cfg = os.path.join(site, "antsibull-docs.cfg")
        subprocess.run(
            ["antsibull-docs", "--config-file", cfg, "collection", "--cleanup", "everything", "--use-current"]
            + ["--dest-dir", rst, "scalelab.capi"],
            **run,
            check=True,
        )
        with open(os.path.join(rst, "ansible-references.rst"), "w") as f:
            f.write(references())
        subprocess.run(
            ["sphinx-build", "-M", "html", rst, os.path.join(site, "build"), "-c", site, "-W", "--keep-going"],
            **run,
            check=True,
        )
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(os.path.join(site, "build", "html"), dest)
    print(f"docsite: {dest}/index.html")


if __name__ == "__main__":
    main()
