"""``python -m sciml.cli ARGS`` (same as ``sciml ARGS``)."""
import sys

from ._core import main

sys.exit(main())
