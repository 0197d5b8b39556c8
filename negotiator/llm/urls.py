from django.urls import path

from negotiator.llm import views

app_name = "llm"

urlpatterns = [
    path("", views.comparison, name="comparison"),
]
