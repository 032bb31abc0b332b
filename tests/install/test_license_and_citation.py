"""What researchers look for first (issue 21 item 7): a LICENSE matching pyproject's, a CITATION.cff that parses and
cites the paper, and DATASETS.md saying where each benchmark is downloaded."""
from pathlib import Path

import pytest
import yaml

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

REPO = Path(__file__).resolve().parents[2]


def test_license_file_matches_pyproject():
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["license"]["text"]
    assert (REPO / "LICENSE").read_text().splitlines()[0] == f"{declared} License"


def test_citation_cites_the_paper_and_this_code():
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software" and cff["license"] == "MIT"
    paper = cff["preferred-citation"]
    assert paper["title"] == "Differentiable Prompt Learning for Vision Language Models" and paper["year"] == 2025
    assert [a["family-names"] for a in paper["authors"]] == ["Huang", "Pedapati", "Chen", "Gao"]
    assert "2501.00457" in paper["url"] and "IJCAI" in paper["conference"]["name"]


def test_datasets_md_names_a_download_source_for_every_benchmark():
    text = (REPO / "DATASETS.md").read_text()
    sources = text.split("## Where to download", 1)[1].split("\n## ", 1)[0]
    for name in ("ImageNet", "Caltech101", "OxfordPets", "StanfordCars", "OxfordFlowers", "Food101", "FGVCAircraft",
                 "SUN397", "DescribableTextures", "EuroSAT", "UCF101", "ImageNetV2", "ImageNetSketch", "ImageNetA",
                 "ImageNetR"):
        row = next((line for line in sources.splitlines() if line.startswith(f"| {name} |")), None)
        assert row and ("http" in row or "CoOp" in row), f"DATASETS.md gives no download source for {name}"
