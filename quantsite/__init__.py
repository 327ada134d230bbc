"""The Django project: settings, Celery app, URL routing and the shared API plumbing."""
