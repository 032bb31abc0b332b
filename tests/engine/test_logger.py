"""setup_logger tees stdout/stderr into OUTPUT_DIR/log.txt and never overwrites an existing log."""
import sys

from dpl.engine.utils import setup_logger


def test_logger_tees_and_keeps_existing_log(tmp_path):
    (tmp_path / "log.txt").write_text("old run\n")
    logger = setup_logger(str(tmp_path))
    try:
        print("new run line")
        print("an error line", file=sys.stderr)
    finally:
        logger.close()
    assert (tmp_path / "log.txt").read_text() == "old run\n"
    new_logs = [p for p in tmp_path.iterdir() if p.name.startswith("log.txt-")]
    assert len(new_logs) == 1
    text = new_logs[0].read_text()
    assert "new run line" in text and "an error line" in text
    assert not hasattr(sys.stdout, "console")  # streams restored
