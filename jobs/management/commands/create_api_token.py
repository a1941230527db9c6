from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from jobs.access.services import api_token_create


class Command(BaseCommand):
    help = "Create a personal API token for a user and print it (it is shown only once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="command line", help="what the token is for")

    def handle(self, *args, username: str, name: str, **options) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no user named {username!r}.")
        record, token = api_token_create(user=user, name=name)
        self.stderr.write(f"Token {record.name!r} for {username}; keep it, it is not shown again:")
        self.stdout.write(token)
