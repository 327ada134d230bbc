"""gunicorn's settings for the web tier: `gunicorn -c quantsite/gunicorn.conf.py` (the Procfile's
and the image's web process). Each value can be changed from the environment; an option given on
the command line wins over this file."""

import os
from pathlib import Path

wsgi_app = "quantsite.wsgi:application"
# 0.0.0.0:8000 in a container, behind its published port or a proxy.
bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
# Sync workers: a request holds its worker until it is answered, and the slow work (backtests,
# training, trading) is the Celery workers'. Two per core, plus one, as gunicorn advises.
worker_class = "sync"
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1) + 1))
# A worker silent for this long is killed and replaced: a request that never ends holds no worker
# for ever. A stop lets requests in flight finish for graceful_timeout seconds.
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("WEB_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("WEB_KEEPALIVE", "5"))
# Requests go to the access log only when asked ("-": standard output); errors always do.
accesslog = os.environ.get("WEB_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("WEB_LOG_LEVEL", "info")
# The workers' heartbeat files in memory: in a container /tmp may be an overlay on disk, which can
# stall a heartbeat long enough to get a healthy worker killed.
if Path("/dev/shm").is_dir():
    worker_tmp_dir = "/dev/shm"
