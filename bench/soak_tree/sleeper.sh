#!/bin/bash
# Sleeps until its timeout. With "stubborn" it and its child ignore SIGTERM,
# so the timeout has to end in SIGKILL.
[ "${1:-}" = stubborn ] && trap '' TERM
sleep 3600 &
echo "sleeper $$ waits for its timeout"
while :; do sleep 1; done
