"""``python -m sciml ARGS`` (same as ``sciml ARGS``)."""
import sys

from .cli import main

sys.exit(main())
