"""``manage.py create_demo_admin``: the demo site's admin account, with its credentials printed.

Idempotent: running it again keeps the existing account (and says so). ``--reset-password`` sets the demo
password again. Refuses to run with ``DEBUG=False`` unless ``--force``: a known password is for a demo on
your own machine, never for a site others can reach.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

USERNAME = "admin"
PASSWORD = "civic-demo"
EMAIL = "admin@example.com"


class Command(BaseCommand):
    help = "Create the demo superuser (admin / civic-demo) if it does not exist, and print its credentials."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--reset-password", action="store_true", help="set the demo password again")
        parser.add_argument("--force", action="store_true", help="run even with DEBUG=False")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError("create_demo_admin sets a publicly known password; it only runs with "
                               "DEBUG=True (or --force).")
        User = get_user_model()
        lookup = {User.USERNAME_FIELD: USERNAME}
        user = User._default_manager.filter(**lookup).first()
        if user is None:
            user = User._default_manager.create_superuser(**lookup, email=EMAIL, password=PASSWORD)
            state = "created"
        elif options["reset_password"]:
            user.set_password(PASSWORD)
            user.is_staff = user.is_superuser = user.is_active = True
            user.save()
            state = "password reset"
        else:
            state = "already exists"
        password = PASSWORD if user.check_password(PASSWORD) else "(changed; run with --reset-password)"
        self.stdout.write(self.style.SUCCESS(f"Demo admin {state}."))
        self.stdout.write(
            f"  URL:      http://127.0.0.1:8000/admin/\n  Username: {USERNAME}\n  Password: {password}")
