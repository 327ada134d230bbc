"""python manage.py mcp_server --user NAME [--http [--host H] [--port P]]: the agent tools over MCP,
acting as the user (their roles limit the tools)."""

import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token

from agents.mcp_server import serve_http, serve_stdio
from quantsite.roles import user_roles


class Command(BaseCommand):
    help = "Serve the agent tools over the Model Context Protocol (stdio, or streamable HTTP with --http)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--user", required=True, help="the user the agent acts as")
        parser.add_argument("--http", action="store_true", help="streamable HTTP instead of stdio")
        parser.add_argument("--host", default="127.0.0.1", help="with --http (default 127.0.0.1)")
        parser.add_argument(
            "--port", type=int, default=8765, help="with --http (default 8765; 0: any free port)"
        )

    def handle(self, *args, **opts) -> None:
        user = get_user_model().objects.filter(username=opts["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {opts['user']!r}")
        roles = user_roles(user)
        if not roles:
            raise CommandError(
                f"{user} holds no role (viewer, operator, risk_officer or admin): no tool to serve"
            )
        if not opts["http"]:
            serve_stdio(user)
            return
        if not Token.objects.filter(user=user).exists():
            raise CommandError(f"{user} has no API token: python manage.py drf_create_token {user}")

        def announce(url: str) -> None:
            # stderr: the line a person (or a test) waits for; stdout stays free of anything else
            print(
                f"MCP over streamable HTTP at {url} as {user} ({', '.join(sorted(roles))})",
                file=sys.stderr,
                flush=True,
            )

        serve_http(user, host=opts["host"], port=opts["port"], announce=announce)
