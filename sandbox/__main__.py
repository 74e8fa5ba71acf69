"""`python -m sandbox`: the same as `make run` without the setup steps."""

import sys

from .run import main

sys.exit(main())
