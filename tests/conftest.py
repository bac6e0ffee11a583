from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".collections")
# Import the collection as Ansible does: ansible_collections.scalelab.capi (hack/setup makes the link).
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
