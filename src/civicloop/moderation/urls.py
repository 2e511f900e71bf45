from django.urls import path

from . import views

app_name = "moderation"

urlpatterns = [
    path("moderation/", views.queue, name="queue"),
    path("moderation/points.geojson", views.points, name="points"),
    path("moderation/<int:held_id>/release/", views.release, name="release"),
    path("moderation/<int:held_id>/reject/", views.reject, name="reject"),
    path("moderation/<int:held_id>/photos/<int:photo_id>.jpg", views.photo, name="photo"),
]
