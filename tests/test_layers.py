"""The layers of DESIGN.md §12 hold: `lint-imports` checks the contracts in pyproject.toml ([tool.importlinter]):
the engine imports nothing of the project but dpl.errors / dpl.file_io, the library never imports train.py or the
repository packages (only dpl/repo_packages.py loads them, by location), prompting and the backbones sit below the
trainers and import nothing of the engine, and dpl's packages and modules import each other without cycles."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINT = "import sys; from importlinter.cli import lint_imports_command; sys.argv[0] = 'lint-imports'; lint_imports_command()"


def test_import_contracts_hold():
    proc = subprocess.run([sys.executable, "-c", LINT, "--no-cache"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert "No module named 'importlinter'" not in proc.stderr, "pip install import-linter (in the [test] extra)"
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout
