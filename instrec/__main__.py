"""``python -m instrec ...``: the same program as the ``instrec`` console script."""

import sys

from instrec.cli import main

sys.exit(main())
