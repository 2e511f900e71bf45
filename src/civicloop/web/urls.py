from django.urls import path

from . import views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("t/", views.ticket_lookup, name="ticket_lookup"),
    path("t/<str:ticket_no>/", views.ticket_detail, name="ticket_detail"),
]
