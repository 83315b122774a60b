"""``python -m covet`` -> covet.cli.main()."""
import sys

from .cli import main

sys.exit(main())
