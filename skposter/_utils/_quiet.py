"""Silencing TensorFlow's log lines while Python's stderr still shows (private)."""

import io
import logging
import os
import sys
from contextlib import contextmanager

# Python loggers of TensorFlow and Keras (absl); warnings and info lines.
_LIBRARY_LOGGERS = ("tensorflow", "absl")


@contextmanager
def native_stderr_silenced():
    """Run the block with C/C++ writes to standard error dropped; Python's still show.

    TensorFlow's C++ runtime prints its log lines (``failed call to cuInit``, oneDNN
    and CPU-feature notices, ``absl::InitializeLog``) straight to file descriptor 2,
    some before ``TF_CPP_MIN_LOG_LEVEL`` is read. So for the block, descriptor 2
    points to the null device while ``sys.stderr`` writes to a duplicate of the
    original descriptor: progress bars, warnings and error messages still show.
    ``TF_CPP_MIN_LOG_LEVEL=3`` (unless set) and the ``tensorflow`` and ``absl``
    Python loggers at ERROR silence the rest. Everything is restored on exit,
    exceptions included.

    When ``sys.stderr`` is not descriptor 2 (a test capturing it, a notebook), it
    is left as it is; descriptor 2 is still silenced. A logging handler made before
    the block keeps the stream it was given, whose lines then go to the null device.
    """
    saved_env = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    loggers = {name: logging.getLogger(name) for name in _LIBRARY_LOGGERS}
    levels = {name: logger.level for name, logger in loggers.items()}
    for logger in loggers.values():
        logger.setLevel(logging.ERROR)
    python_stderr = sys.stderr
    replaced = _writes_to_fd2(python_stderr)
    _flush(python_stderr)
    original_fd2 = os.dup(2)
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        os.close(null)
        if replaced:
            sys.stderr = _text_stream(os.dup(original_fd2), like=python_stderr)
        yield
    finally:
        if replaced:
            _flush(sys.stderr)
            sys.stderr.close()
            sys.stderr = python_stderr
        os.dup2(original_fd2, 2)
        os.close(original_fd2)
        for name, logger in loggers.items():
            logger.setLevel(levels[name])
        if saved_env is None:
            os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
        else:
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = saved_env


def _writes_to_fd2(stream):
    try:
        return stream is not None and stream.fileno() == 2
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False


def _flush(stream):
    if stream is not None:
        stream.flush()


def _text_stream(fd, *, like):
    # Line-buffered, as stderr is: a warning shows before the next bar redraws.
    return open(fd, "w", buffering=1, encoding=getattr(like, "encoding", None) or "utf-8",
                errors=getattr(like, "errors", None) or "backslashreplace")
