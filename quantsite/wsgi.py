"""WSGI entry point (gunicorn quantsite.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quantsite.settings")
application = get_wsgi_application()
