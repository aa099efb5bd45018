import sys

from trtlens.cli import main

sys.exit(main())
