#!/bin/bash
# Ignores SIGTERM, and so do its children (SIG_IGN survives fork and exec):
# only the runner's SIGKILL after grace_ms ends this tree.
trap '' TERM
bin="$(dirname "$0")/../bin"
"$bin/soak_runsvc" 3600 &   # a watched service that the run brings up
sleep 3600 &                # a child in the run's process group
( setsid sleep 3600 & ) &   # a double-forked escapee in a session of its own
echo "stubborn $$ up"
while :; do sleep 1; done
