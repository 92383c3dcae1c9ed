"""`python -m minimal_unet ...`: the same command line as `minimal-unet ...`."""

from minimal_unet.cli import main

raise SystemExit(main())
