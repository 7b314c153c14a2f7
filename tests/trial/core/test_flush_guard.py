import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


@pytest.mark.django_db
def test_flush_is_refused_outside_the_test_settings(settings):
    settings.STRATUM_ALLOW_FLUSH = False
    with pytest.raises(CommandError, match="erase clinical records"):
        call_command("flush", interactive=False, verbosity=0)
