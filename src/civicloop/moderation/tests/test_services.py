import datetime as dt

import pytest
from django.utils import timezone

from civicloop.moderation.models import SubmissionPrint
from civicloop.moderation.services import prints_prune

pytestmark = pytest.mark.django_db


def test_old_fingerprints_are_forgotten_recent_ones_kept():
    now = timezone.now()
    SubmissionPrint.objects.create(fingerprint="a" * 64, sender="ip:1.2.3.4", submitted_at=now - dt.timedelta(days=3))
    SubmissionPrint.objects.create(fingerprint="b" * 64, sender="ip:1.2.3.4", submitted_at=now - dt.timedelta(hours=1))
    assert prints_prune(now=now) == 1
    assert list(SubmissionPrint.objects.values_list("fingerprint", flat=True)) == ["b" * 64]
