"""The OpenAPI schema's endpoint (its AutoSchema lives in quantsite.schema, which the schema
views import: the two cannot share a module)."""

from drf_spectacular.views import SpectacularAPIView
from rest_framework.renderers import JSONRenderer


class SchemaApi(SpectacularAPIView):
    """The schema, YAML by default (?format=json for JSON); its errors in JSON, as every error is."""

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        self.request.accepted_renderer, self.request.accepted_media_type = JSONRenderer(), "application/json"
        return response
