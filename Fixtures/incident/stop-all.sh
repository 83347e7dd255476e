#!/bin/sh
# Stop every demo pod (and any process of one) recorded in a state folder.
#   stop-all.sh [STATE_DIR] [--any]   default: $BISECT_DEMO_STATE or /tmp/bisect-deploy-demo;
#                                     --any also stops pods of every other state folder.
if [ $# -gt 0 ] && [ "$1" != --any ]; then BISECT_DEMO_STATE=$1; export BISECT_DEMO_STATE; shift; fi
exec python3 "$(dirname "$0")/cluster.py" stop-all "$@"
