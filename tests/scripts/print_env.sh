#!/bin/sh
# Prints the environment it got, one NAME=value per line.
exec env
