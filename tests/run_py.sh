#!/bin/sh
# run_py.sh - runs one Python protocol test for the automake test harness
# (PY_LOG_COMPILER).  Exit 77 (SKIP) when there is no Python 3, so a
# machine without it still runs the C unit tests.
py=
for p in python3 python3.13 python3.12 python3.11 python3.10 python3.9 python3.8; do
	save_IFS=$IFS; IFS=:
	for d in $PATH; do
		IFS=$save_IFS
		if test -x "${d:-.}/$p"; then
			py=${d:-.}/$p
			break 2
		fi
	done
	IFS=$save_IFS
done
if test -z "$py"; then
	echo "SKIP: python3 not found"
	exit 77
fi
exec "$py" "$@"
