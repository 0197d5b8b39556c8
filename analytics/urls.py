from django.urls import path

from analytics import views

app_name = "analytics"

urlpatterns = [
    path("", views.outcomes, name="outcomes"),
    path("export.csv", views.outcomes_export, name="outcomes_export"),
]
