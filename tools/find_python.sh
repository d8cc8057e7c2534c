#!/bin/sh
# Prints the path of a working Python VERSION for the project's venvs (the Makefile's PYTHON).
#
#   sh tools/find_python.sh 3.12
#
# Tries, in order: pythonVERSION on PATH, pyenv's versions/VERSION*/bin/pythonVERSION (under
# `pyenv root`, $PYENV_ROOT or ~/.pyenv), /usr/local/bin and /usr/bin, then python3 on PATH.
# A candidate counts only if it runs, is that version and has venv and ensurepip (a pyenv shim
# whose version is not selected fails; so does a Debian python3 without python3-venv).
# With none of them, prints python3's path (or "python3"), says so on stderr and exits 1.
# Shell built-ins only (the tests run it with a PATH of fakes).

want=${1:?usage: find_python.sh VERSION (e.g. 3.12)}

works() {
    "$1" -c "import sys, venv, ensurepip
sys.exit('%d.%d' % sys.version_info[:2] != '$want')" >/dev/null 2>&1
}

pyenv_root=$(pyenv root 2>/dev/null) || pyenv_root=
for root in "$pyenv_root" "${PYENV_ROOT:-}" "${HOME:-/nonexistent}/.pyenv"; do
    [ -n "$root" ] || continue
    for candidate in "$root"/versions/"$want"*/bin/python"$want"; do
        [ -x "$candidate" ] && set -- "$@" "$candidate"
    done
done
shift  # the version itself

for candidate in "python$want" "$@" "/usr/local/bin/python$want" "/usr/bin/python$want" python3; do
    path=$(command -v "$candidate" 2>/dev/null) || continue
    if works "$path"; then
        echo "$path"
        exit 0
    fi
done

fallback=$(command -v python3 2>/dev/null) || fallback=python3
echo "find_python.sh: no working Python $want (python$want, pyenv versions/$want*, python3); using $fallback" >&2
echo "$fallback"
exit 1
