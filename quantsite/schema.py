"""The OpenAPI schema's shared parts: the error answer every endpoint may give, and an AutoSchema
that documents, on every operation, the errors that can come from outside its view (no or bad
credentials, a missing role, throttling, a bad filter or page)."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """The shape of every error answer (quantsite.errors)."""

    error = serializers.CharField(help_text='a code: "invalid_input", "not_found", "conflict", ...')
    message = serializers.CharField(help_text="one sentence for a person")
    details = serializers.DictField(help_text="per field, or the reasons (a risk manager's refusal)")


def error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


class QuantAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, description in self._common_errors().items():
            if code not in responses:
                responses[code] = self._get_response_for_code(error(description), code, direction=direction)
        return dict(sorted(responses.items()))

    def _common_errors(self) -> dict[str, str]:
        errors = {
            "400": "invalid input (a field, a filter, a parameter; a NUL character anywhere)",
            "401": "no credentials, or bad ones",
            "403": "the caller's role may not do this",
            "429": "too many requests: writes per user, and unauthenticated requests per address",
        }
        if "{" in self.path or self._is_list_view():
            errors["404"] = "no such object (or, for a list, no such page)"
        return errors
