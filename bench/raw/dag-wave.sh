#!/bin/bash
# Raw lower bound for dag-wave.gitlab-ci.yml (the shared raw/ folder has none): each job is
# one `bash -c`, and the two chains a1 -> a2 and b1 -> b2 run side by side, as a scheduler
# that starts a job as soon as its own needs finish would run them (~3 s; a sequential
# bound would be 6 s and say nothing about scheduling).
set -eo pipefail
(bash -eo pipefail -c 'sleep 1' && bash -eo pipefail -c 'sleep 2') &
a=$!
(bash -eo pipefail -c 'sleep 2' && bash -eo pipefail -c 'sleep 1') &
b=$!
wait "$a"
wait "$b"
