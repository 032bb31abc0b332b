"""The baselines' official training step and initial draws: the references follow the official code's calls
(tests/baselines/official_recipe.py holds the forward recipe both folders share)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "baselines"))
