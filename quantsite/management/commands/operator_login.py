"""Create the console's operator login once and print it; later runs print the same one."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from quantsite.roles import ADMIN, OPERATOR

USERNAME = "operator"


class Command(BaseCommand):
    help = "Create (or show) the operator login of the console, saved under var/."

    def handle(self, *args, **options) -> None:
        saved = settings.VAR_DIR / "operator-login.txt"
        password = saved.read_text().strip() if saved.is_file() else secrets.token_urlsafe(12)
        if not saved.is_file():
            saved.write_text(password + "\n")
            saved.chmod(0o600)
        user, created = get_user_model().objects.get_or_create(
            username=USERNAME, defaults={"is_staff": True, "is_superuser": True}
        )
        if created or not user.check_password(password):
            user.set_password(password)
            user.save()
        user.groups.add(*Group.objects.filter(name__in=[OPERATOR, ADMIN]))
        self.stdout.write(f"operator login: user {USERNAME}, password {password} (kept in {saved})")
