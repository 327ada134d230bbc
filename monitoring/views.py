"""Pages and plain views of monitoring."""

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def healthz(request) -> JsonResponse:
    """Liveness for a load balancer or an orchestrator: the process answers. Unauthenticated, and so
    it tells nothing more; the details are at /api/v1/health/ (a viewer's)."""
    return JsonResponse({"status": "ok"})
