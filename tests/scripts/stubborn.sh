#!/bin/sh
# Ignores SIGTERM, and so do its two grandchildren loops (SIG_IGN is
# inherited across fork and exec): only SIGKILL ends this tree.
trap '' TERM
( while :; do sleep 1; done ) &
echo "child $!"
( while :; do sleep 1; done ) &
echo "child $!"
echo ready
wait
