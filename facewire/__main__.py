import sys

from facewire.cli import main

sys.exit(main())
