"""``python -m sciml ARGS`` (same as ``sciml ARGS``)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
