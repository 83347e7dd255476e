#!/bin/sh
# The 2017 post-deploy check: does the user server answer /api/status with 200?
# A bisect-deploy test command (exit 0 good, 1 bad, 125 cannot test).
exec python3 "$(dirname "$0")/checks.py" status "$@"
