"""``python -m datatasker_pipeline.cli``: the same as the ``datatasker`` command."""

import sys

from . import main

sys.exit(main())
