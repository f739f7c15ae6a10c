"""``manage.py civic_erase_user <user id or username> [--yes] [--delete-user]``.

Deletes everything django_civic stores about the user (``django_civic.account.privacy.erase_user``):
identities and their attributes, proofing sessions and their proof archives (from the proof storage),
cached exchanged Civic tokens; ``identity_unlinked`` is sent for each identity. The Django user is kept unless
``--delete-user``. Asks for confirmation unless ``--yes``. Prints counts and the user's id, nothing else.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_civic.account.privacy import UserNotFound, erase_user, erasure_plan, find_user


class Command(BaseCommand):
    help = "Erase everything django_civic stores about a user (identities, attributes, proofing data)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user", help="The user's id or username.")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")
        parser.add_argument("--delete-user", action="store_true",
                            help="Delete the Django user as well (default: keep the account).")

    def handle(self, *args: Any, user: str, yes: bool, delete_user: bool, **options: Any) -> None:
        try:
            person = find_user(user)
        except UserNotFound as exc:
            raise CommandError(str(exc)) from None
        user_id = person.pk
        plan = erasure_plan(person)
        what = (f"{plan.identities} identity(ies), {plan.attributes} attribute(s), "
                f"{plan.proofing_sessions} proofing session(s), {plan.proof_files} proof file(s)")
        account = "and the user account itself" if delete_user else "(the user account is kept)"
        if not yes:
            self.stdout.write(f"This permanently deletes, for user {user_id}: {what} {account}.")
            try:
                answer = input("Type 'yes' to continue: ")
            except EOFError:
                answer = ""
            if answer.strip().lower() != "yes":
                raise CommandError("Nothing was deleted.")
        report = erase_user(person, delete_user=delete_user)
        self.stdout.write(
            f"Erased for user {user_id}: {report.identities} identity(ies), "
            f"{report.attributes} attribute(s), {report.proofing_sessions} proofing session(s), "
            f"{report.proof_files} proof file(s)"
            + ("; the user was deleted." if report.user_deleted else "; the user account is kept.")
        )
        if report.proof_files_left:
            raise CommandError(f"{report.proof_files_left} proof file(s) could not be deleted from the proof "
                               "storage; delete them by hand.")
