"""Entry point of `main: infra/`, and of `python -m infra plan|schema`.

Under `pulumi up`/`preview` the language host configures the runtime before it
runs this file, so a configured monitor means: run the stack program. Anyone
else running `python -m infra` gets the offline command line.
"""

import sys

from pulumi.runtime.settings import get_monitor

if get_monitor() is not None:
    from infra.program import main

    main()
else:
    from infra.cli import main as cli

    sys.exit(cli(sys.argv[1:]))
