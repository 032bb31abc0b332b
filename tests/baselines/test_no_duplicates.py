"""Anything two trainers share belongs in dpl/: no two trainers/ files may share a block of more than 10
identical consecutive non-blank lines."""
from itertools import combinations
from pathlib import Path

TRAINERS = Path(__file__).resolve().parents[2] / "trainers"
WINDOW = 11  # a shared block longer than 10 lines


def windows(path):
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return {tuple(lines[i:i + WINDOW]): i for i in range(len(lines) - WINDOW + 1)}


def test_windows_detects_a_shared_block(tmp_path):
    block = "\n".join(f"x{i} = {i}" for i in range(WINDOW))
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("import os\n" + block)
    b.write_text(block + "\n\nprint(1)\n")
    assert set(windows(a)) & set(windows(b))


def test_no_shared_blocks_between_trainer_files():
    files = sorted(TRAINERS.glob("*.py"))
    assert len(files) >= 2
    found = []
    for a, b in combinations(files, 2):
        shared = set(windows(a)) & set(windows(b))
        if shared:
            found.append(f"{a.name} and {b.name} share {len(shared)} block(s), e.g.:\n" + "\n".join(min(shared)))
    assert not found, "\n\n".join(found)
