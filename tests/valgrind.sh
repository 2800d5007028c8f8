#!/bin/sh
# make valgrind: the end-to-end valgrind checks on their own.
exec env TRAGUARDO="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")" sh "$(dirname "$0")/integration/test_valgrind.sh"
