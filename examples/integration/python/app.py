"""A Python application that repairs its device store at start, through the API."""

import sys

from scopemigrate.config import load_config
from scopemigrate.errors import ScopemigrateError
from scopemigrate.hook import hook

APP_VERSION = "2026.2.19"  # the application's own release, e.g. its __version__


def main() -> int:
    try:
        result = hook(load_config(), installed_version=APP_VERSION, timeout=30)
    except ScopemigrateError as exc:
        print(f"device store not migrated: {exc}", file=sys.stderr)
        return 1
    if result.changed:
        print(result.summary())
    # ... start the application here ...
    return 0


if __name__ == "__main__":
    sys.exit(main())
