#!/bin/sh
# Dies by SIGSEGV (without leaving a core file behind).
ulimit -c 0
kill -SEGV $$
