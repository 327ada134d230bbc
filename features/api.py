"""Features API: the declared feature sets (read-only)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from features.selectors import feature_set_list


class FeatureSpecSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField()
    params = serializers.DictField()
    columns = serializers.ListField(child=serializers.CharField())
    warm_up = serializers.IntegerField()


class FeatureSetSerializer(serializers.Serializer):
    name = serializers.CharField()
    version = serializers.CharField(
        help_text="The hash of the features: a changed definition is a new version."
    )
    description = serializers.CharField()
    warm_up = serializers.IntegerField(help_text="Bars at the start of a series where some feature is NaN.")
    columns = serializers.ListField(child=serializers.CharField())
    features = FeatureSpecSerializer(many=True)


class FeatureSetListApi(APIView):
    """The feature sets of configs/features/, with their versions and columns."""

    @extend_schema(responses=FeatureSetSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(FeatureSetSerializer(feature_set_list(), many=True).data)
