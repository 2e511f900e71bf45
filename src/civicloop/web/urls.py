from django.urls import path

from . import account, casepage, dispatch, geo, resident, views, workbench

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("t/", views.ticket_lookup, name="ticket_lookup"),
    path("t/<str:ticket_no>/", views.ticket_detail, name="ticket_detail"),
    path("login/", account.LoginView.as_view(), name="login"),
    path("logout/", account.LogoutView.as_view(), name="logout"),
    path("me/", account.me, name="me"),
    path("geo/areas.geojson", geo.areas_geojson, name="areas_geojson"),
]
# Each page module owns its URL patterns (all in the "web" namespace).
urlpatterns += resident.urlpatterns + dispatch.urlpatterns + casepage.urlpatterns + workbench.urlpatterns
