from django.apps import AppConfig


class StrategiesConfig(AppConfig):
    name = "strategies"
    verbose_name = "Strategies and models"

    def ready(self) -> None:
        from celery.signals import task_success

        from strategies.core.registry import model_registry_install
        from strategies.selectors import model_artifact_get
        from strategies.signals import predictions_after_ingestion

        model_registry_install(model_artifact_get)  # ml strategies name registered models by id
        task_success.connect(predictions_after_ingestion, weak=False, dispatch_uid="predictions")
