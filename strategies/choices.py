from django.db import models


class ModelStatus(models.TextChoices):
    CANDIDATE = "candidate"
    APPROVED = "approved"
    RETIRED = "retired"
