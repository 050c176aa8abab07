#!/bin/sh
# Demo: a test that fails (exit code 3).
echo "checking something that is broken"
echo "error: expected 32 links, found 31" >&2
exit 3
