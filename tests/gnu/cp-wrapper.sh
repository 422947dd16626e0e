#!/bin/bash
# Installed by tests/gnu/run.sh as src/cp of the GNU coreutils build tree: the
# GNU test suite runs uring-cp as if it were cp. run.sh fills in the two
# @...@ values. stdin, stdout and the exit status pass through untouched;
# stderr goes through sed so that uring-cp's "uring-cp: " prefix reads "cp: "
# (the tests compare messages). A pipeline rather than 2> >(sed): bash waits
# for every member of a pipeline, so all of stderr is written when cp returns
# (a process substitution in a command's redirection is no child of this
# shell, and `wait $!` cannot wait for it).
ucp='@UCP_BIN@'
engine='@UCP_ENGINE@'
exec 3>&1
"$ucp" --engine "$engine" "$@" 2>&1 >&3 3>&- |
    sed -u -e 's/^uring-cp: /cp: /' -e "s/'uring-cp --help'/'cp --help'/" >&2 3>&-
exit "${PIPESTATUS[0]}"
