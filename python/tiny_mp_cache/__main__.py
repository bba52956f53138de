# SPDX-License-Identifier: MIT
"""``python -m tiny_mp_cache [OPTION]...``: the tiny-mp-cache-server
command (see :mod:`tiny_mp_cache.cli`)."""

import os
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main(prog=f"{os.path.basename(sys.executable)} -m tiny_mp_cache"))
