"""The record that the demo city is in this database."""

from django.db import models


class DemoLoad(models.Model):
    """Written in the same transaction as the demo city itself: while this row exists the demo
    is there completely, and loading it again does nothing.

    Not shown in the admin, so its field names are not translated.
    """

    seed = models.BigIntegerField()
    cases = models.PositiveIntegerField()  # reports replayed
    anchor = models.DateTimeField()  # the history ends here
    loaded_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"demo city: {self.cases} reports up to {self.anchor:%Y-%m-%d %H:%M}"
