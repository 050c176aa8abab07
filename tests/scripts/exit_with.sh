#!/bin/sh
# Exits with the code given as $1 (default 0).
exit "${1:-0}"
