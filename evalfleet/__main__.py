import sys

from evalfleet.cli import main

sys.exit(main())
