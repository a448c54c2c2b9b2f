"""The ``scopemigrate`` logger: what a run did, for an application that asks.

Standard ``logging``, quiet by default: the package's logger has a
``NullHandler`` (as the logging HOWTO asks of a library), so nothing reaches
stderr unless an application configures logging or turns the logger up, e.g.
``logging.getLogger("scopemigrate").setLevel(logging.INFO)`` with a handler.
The command line's ``-v`` shows INFO records on stderr, ``-vv`` DEBUG ones.

INFO says what a run decided and did: its plan, each revision's counts, the
commit, the backups kept, a recovered commit, a retry. DEBUG adds detail per
statement and per removed backup. Records name a store by its location (a
PostgreSQL URL without its password) and devices by id; never a token, a
password. The command line's handler writes each record through
``printable``: a newline or an escape in a device id or a path cannot forge a
line of its output.

Standard library only: stores and the run import it.
"""

from __future__ import annotations

import logging
from typing import TextIO

from scopemigrate.printable import printable

__all__ = ["LOGGER_NAME", "get_logger", "log_to"]

LOGGER_NAME = "scopemigrate"
logging.getLogger(LOGGER_NAME).addHandler(logging.NullHandler())


def get_logger(module: str) -> logging.Logger:
    """The logger of one module (``__name__``), a child of ``scopemigrate``."""
    return logging.getLogger(module)


class _OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))


def log_to(stream: TextIO, level: int) -> logging.Handler:
    """Show the ``scopemigrate`` logger's records from ``level`` up on ``stream``
    (what the command line's ``-v`` does); returns the handler, to remove it."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_OneLine("scopemigrate: %(levelname)s: %(message)s"))
    logger = logging.getLogger(LOGGER_NAME)
    logger.addHandler(handler)
    logger.setLevel(min(level, logger.getEffectiveLevel()))
    return handler
