"""scopemigrate: declarative, versioned scope migrations for device stores.

The Python API is ``scopemigrate.commands`` (one function per CLI verb) with
``scopemigrate.config.load_config``.
"""

from __future__ import annotations

__version__ = "0.1.0"
