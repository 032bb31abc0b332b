"""Tee stdout and stderr into ``OUTPUT_DIR/log.txt`` (Dassl's ``setup_logger``, plus stderr)."""
import os
import sys
import time

from .io import mkdir_if_missing


class _Tee:
    """Writes to the console stream and the log file; ``console`` is the original stream."""

    def __init__(self, console, file):
        self.console = console
        self.file = file

    def write(self, msg):
        self.console.write(msg)
        if not self.file.closed:
            self.file.write(msg)

    def flush(self):
        self.console.flush()
        if not self.file.closed:
            self.file.flush()
            os.fsync(self.file.fileno())

    def isatty(self):
        return False

    def __getattr__(self, name):  # fileno, encoding, ... of the console
        return getattr(self.console, name)


class Logger:
    """Handle returned by ``setup_logger``: ``path`` of the log file; ``close()`` restores the streams."""

    def __init__(self, fpath):
        folder = os.path.dirname(os.path.abspath(fpath))
        try:
            mkdir_if_missing(folder)
            self.file = open(fpath, "w", buffering=1)
        except OSError as e:  # a file where the folder should be, a folder under a file, no permission
            from dpl.errors import ConfigError

            raise ConfigError(f"Cannot write the log of this run in the output folder {folder} "
                              f"({e.strerror or e}); use an --output-dir that is (or can become) a folder you "
                              "can write to") from None
        self.path = fpath
        self._stdout, self._stderr = sys.stdout, sys.stderr
        sys.stdout = _Tee(self._stdout, self.file)
        sys.stderr = _Tee(self._stderr, self.file)

    def close(self):
        if sys.stdout is not self._stdout and isinstance(sys.stdout, _Tee):
            sys.stdout = self._stdout
        if sys.stderr is not self._stderr and isinstance(sys.stderr, _Tee):
            sys.stderr = self._stderr
        if not self.file.closed:
            self.file.close()


def log_path_for(output):
    """``output`` itself when it names a .txt/.log file, else ``output/log.txt``; an existing file is never
    overwritten: the new log gets Dassl's ``-YYYY-MM-DD-HH-MM-SS`` suffix."""
    fpath = output if output.endswith((".txt", ".log")) else os.path.join(output, "log.txt")
    if os.path.exists(fpath):
        base = fpath + time.strftime("-%Y-%m-%d-%H-%M-%S")
        fpath, n = base, 1
        while os.path.exists(fpath):  # two runs started in the same second
            fpath, n = f"{base}-{n}", n + 1
    return fpath


def setup_logger(output=None):
    if not output:
        return None
    return Logger(log_path_for(output))


def log_only(text):
    """``text`` into log.txt only, not onto the terminal (e.g. the full config); printed when no log is open.
    Returns whether it went to a log."""
    stream = sys.stdout
    if isinstance(stream, _Tee) and not stream.file.closed:
        stream.console.flush()
        stream.file.write(text + "\n")
        stream.file.flush()
        return True
    print(text)
    return False


def console_stream(stream=None):
    """The real console behind a tee (progress bars go there, not into log.txt)."""
    stream = stream if stream is not None else sys.stderr
    return getattr(stream, "console", stream)
