"""``python -m moss_ref.cli`` = ``moss-ref``."""

import sys

from . import main

sys.exit(main())
