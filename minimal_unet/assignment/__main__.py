"""`python -m minimal_unet.assignment make|grade|check|submit|autograder|classroom|course`."""

import sys

from minimal_unet.assignment import main

sys.exit(main())
