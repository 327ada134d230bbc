from django.apps import AppConfig


class StrategiesConfig(AppConfig):
    name = "strategies"
    verbose_name = "Strategies and models"

    def ready(self) -> None:
        from strategies.core.registry import model_registry_install
        from strategies.selectors import model_artifact_get

        model_registry_install(model_artifact_get)  # ml strategies name registered models by id
