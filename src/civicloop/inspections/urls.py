from __future__ import annotations

from .views import bulletins, inspect, results, rounds, standards

app_name = "inspections"

urlpatterns = [
    *rounds.urlpatterns,
    *standards.urlpatterns,
    *inspect.urlpatterns,
    *results.urlpatterns,
    *bulletins.urlpatterns,
]
