"""Health API."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring.selectors import health_get


class HealthApi(APIView):
    @extend_schema(
        responses=inline_serializer(
            "Health",
            {
                "status": serializers.ChoiceField(choices=["ok", "degraded", "down"]),
                "checked_at": serializers.DateTimeField(),
                "checks": serializers.DictField(child=serializers.DictField()),
            },
        )
    )
    def get(self, request):
        report = health_get(now=timezone.now())
        return Response(report, status=503 if report["status"] == "down" else 200)
