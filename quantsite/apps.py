from django.apps import AppConfig


class QuantsiteConfig(AppConfig):
    name = "quantsite"
    verbose_name = "Platform"

    def ready(self) -> None:
        # Loading the Celery app here makes every @shared_task bind to it, in web processes too.
        from quantsite import celery  # noqa: F401
