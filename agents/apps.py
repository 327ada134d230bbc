from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class AgentsConfig(AppConfig):
    name = "agents"
    verbose_name = "Agents"

    def ready(self) -> None:
        # Each app declares its tools in <app>/tools.py; importing them registers them.
        autodiscover_modules("tools")
