"""docs/architecture.md: its picture is generated from the committed Graphviz source, and the
paths it sends a reader to exist."""
from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from testlib import REPO

DOCS = REPO / "docs"
DOT = DOCS / "architecture.dot"
SVG = DOCS / "architecture.svg"
PAGE = DOCS / "architecture.md"


def test_the_svg_was_generated_from_the_committed_dot_source():
    """`make docs` stamps the source's sha256 into the SVG: a .dot edited without regenerating fails."""
    digest = hashlib.sha256(DOT.read_bytes()).hexdigest()
    stamp = re.search(r"<!-- source: docs/architecture\.dot sha256:([0-9a-f]{64}) -->", SVG.read_text())
    assert stamp, "docs/architecture.svg has no source stamp: run make docs"
    assert stamp.group(1) == digest, "docs/architecture.svg is stale: run make docs"
    ET.fromstring(SVG.read_bytes())  # well-formed


def _titles(svg_text: str) -> set[str]:
    """Node and edge names of a Graphviz SVG (stable across Graphviz versions, unlike coordinates)."""
    root = ET.fromstring(svg_text)
    return {t.text for t in root.iter("{http://www.w3.org/2000/svg}title") if t.text}


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed (apt-get install graphviz)")
def test_the_svg_shows_what_the_dot_source_says():
    fresh = subprocess.run(["dot", "-Tsvg", str(DOT)], capture_output=True, text=True, check=True, timeout=60).stdout
    assert _titles(fresh) == _titles(SVG.read_text()), "docs/architecture.svg is stale: run make docs"


def test_the_page_shows_the_picture_and_readme_links_the_page():
    page = PAGE.read_text()
    assert "](architecture.svg)" in page
    assert "docs/architecture.md" in (REPO / "README.md").read_text()
    for heading in ("## The parts", "## A deploy", "## A metric", "## Where to make each kind of change"):
        assert heading in page


def test_every_path_the_page_names_exists():
    """A moved file must be moved on this page too."""
    page = PAGE.read_text()
    paths = {p.rstrip("/") for p in re.findall(r"`((?:charts|roles|plugins|tests|scripts|tools|docs|playbooks|"
                                               r"inventories|extensions|awx)/[^`\s<>]*)`", page)}
    assert len(paths) > 20, paths
    missing = sorted(p for p in paths if not (REPO / p).exists())
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"
