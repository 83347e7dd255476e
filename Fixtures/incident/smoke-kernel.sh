#!/bin/sh
# The kernel smoke test the postmortem asked for: start a kernel through the user server,
# run 1+1, expect 2 within 10 s. A bisect-deploy test command (0 good, 1 bad, 125 cannot test).
exec python3 "$(dirname "$0")/checks.py" kernel --timeout "${SMOKE_TIMEOUT:-10}" "$@"
