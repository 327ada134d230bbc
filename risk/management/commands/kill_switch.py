"""python manage.py kill_switch: halt trading, see the states, ask to leave HALTED.

It talks to the database and the brokers directly, so it works while the web tier is down.
"""

import getpass

from django.core.management.base import BaseCommand, CommandError

from execution.brokers import order_clients
from marketdata.core.errors import ApplicationError
from quantsite.cli import user_named
from risk.models import TradingStateRecord
from risk.services import halt_reset_request, kill_switch_engage
from strategies.models import StrategyVersion


class Command(BaseCommand):
    help = (
        "engage: HALT the platform (or one strategy version), cancel its open orders at their brokers, "
        "optionally ask for its positions to be closed. status: the trading states. request-reset: ask "
        "to leave HALTED (a risk officer other than you approves it, in the admin)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["engage", "status", "request-reset"])
        parser.add_argument("--reason", default="", help="why (kept in the audit trail)")
        parser.add_argument(
            "--strategy", type=int, help="a strategy version's id (default: the whole platform)"
        )
        parser.add_argument("--flatten", action="store_true", help="also close the positions")
        parser.add_argument("--user", help="who you are (a user name); default: your login on this machine")

    def handle(self, *args, **opts) -> None:
        self.failed = 0
        try:
            user = user_named(opts["user"])
            version = None if opts["strategy"] is None else self._version(opts["strategy"])
            if opts["action"] == "engage":
                self._engage(opts, user, version)
            elif opts["action"] == "request-reset":
                if user is None:
                    raise CommandError("request-reset needs --user: an approval is asked for by a person")
                approval = halt_reset_request(requested_by=user, reason=opts["reason"], version=version)
                self.stdout.write(f"{approval} requested; a risk officer other than you decides it")
            for record in TradingStateRecord.objects.order_by("scope"):
                flatten = " (flatten requested)" if record.flatten_requested else ""
                self.stdout.write(f"{record.scope:<16} {record.state:<9} {record.reason}{flatten}")
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        if self.failed:
            raise CommandError(
                f"{self.failed} open order(s) could not be cancelled: see above; trading is halted"
            )

    def _engage(self, opts, user, version) -> None:
        label = None if user is not None else f"cli:{getpass.getuser()}"

        cancelled, failed = kill_switch_engage(
            reason=opts["reason"],
            by=user,
            label=label,
            version=version,
            flatten=opts["flatten"],
            client_for=order_clients(),
        )
        self.stdout.write(f"halted; {len(cancelled)} open order(s) cancelled")
        for order, why in failed:
            self.stdout.write(f"NOT cancelled: {order}: {why}")
        self.failed = len(failed)

    @staticmethod
    def _version(pk: int) -> StrategyVersion:
        version = StrategyVersion.objects.filter(pk=pk).first()
        if version is None:
            raise CommandError(f"no strategy version #{pk}")
        return version
