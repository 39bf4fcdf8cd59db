#!/bin/sh
# Runs a command now and then again every $EVERY_INTERVAL_S seconds (default 3600): the re-index
# schedule of docker-compose.yml, where the command is `kura reindex`. A failed run is reported and the
# schedule goes on (the job keeps the old index serving when a run fails).
#
#   every.sh kura reindex     run the schedule
#   every.sh --check          exit 0 while the last run ended less than two intervals ago (the health check)
set -u
interval="${EVERY_INTERVAL_S:-3600}"
stamp="${EVERY_STAMP_FILE:-/tmp/every.last}"

if [ "${1:-}" = "--check" ]; then
  [ -f "$stamp" ] || exit 1
  age=$(( $(date +%s) - $(cat "$stamp") ))
  [ "$age" -lt $(( 2 * interval )) ]
  exit
fi
if [ "$#" -eq 0 ]; then
  echo "usage: every.sh COMMAND [ARGS...]  (or every.sh --check)" >&2
  exit 2
fi

while :; do
  "$@"
  status=$?
  if [ "$status" -ne 0 ]; then
    echo "every: '$*' exited with status $status; next run in ${interval}s" >&2
  fi
  date +%s > "$stamp"
  sleep "$interval"
done
