"""Run the command line: ``python -m bulkwriter``."""

import sys

from bulkwriter.cli import main

if __name__ == "__main__":
    sys.exit(main())
