"""Stands in for get-pip.py, which ansible-test downloads from ci-files.testing.ansible.com to bootstrap pip in its
venvs (unreachable from the labs' machines): pip from the interpreter's own ensurepip, then pip installs what
ansible-test asked get-pip for (its pip and setuptools pins) from the package index."""

from __future__ import annotations

import ensurepip
import os
import subprocess
import sys

# get-pip's own switches, not pip's
OWN = {"--no-setuptools", "--no-wheel"}

env = dict(os.environ)
ensurepip.bootstrap()  # sets PIP_CONFIG_FILE=/dev/null in this process: the install below reads pip's config again
args = [a for a in sys.argv[1:] if a not in OWN]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *args], env=env))
