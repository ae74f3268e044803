"""``python -m moss_ref.server [options]`` = ``moss-ref serve [options]``."""

import sys

from ..cli import main

sys.exit(main(["serve", *sys.argv[1:]]))
