"""``python -m sciml.cli ARGS`` (same as ``sciml ARGS``)."""
import sys

from ._core import main

if __name__ == "__main__":
    sys.exit(main())
