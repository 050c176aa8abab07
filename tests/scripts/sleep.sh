#!/bin/sh
# Prints "ready", sleeps $1 seconds (default 30) in a child, then "done".
echo ready
sleep "${1:-30}"
echo done
