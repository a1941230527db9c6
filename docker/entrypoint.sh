#!/bin/sh
# The roles of the Slidecast image. Settings come from the environment (see .env.example).
set -eu
role="${1:-web}"
[ $# -gt 0 ] && shift
case "$role" in
  web)
    python manage.py collectstatic --no-input -v 0
    exec gunicorn project.wsgi:application \
      --bind "0.0.0.0:${PORT:-8000}" \
      --workers "${WEB_CONCURRENCY:-3}" --threads "${WEB_THREADS:-4}" \
      --timeout 120 --max-requests 2000 --max-requests-jitter 200 \
      --access-logfile - "$@"
    ;;
  worker)
    queues="${1:-cpu}"
    [ $# -gt 0 ] && shift
    exec python manage.py procrastinate worker --queues="$queues" "$@"
    ;;
  migrate)
    exec python manage.py migrate --no-input "$@"
    ;;
  healthcheck)
    # Web: the live endpoint. Workers: a worker of this container beat recently.
    if [ -n "${SLIDECAST_WORKER_QUEUES:-}" ]; then
      exec python manage.py worker_alive
    fi
    exec curl --fail --silent --max-time 4 -H "Host: localhost" "http://127.0.0.1:${PORT:-8000}/health/live"
    ;;
  *)
    exec python manage.py "$role" "$@"
    ;;
esac
