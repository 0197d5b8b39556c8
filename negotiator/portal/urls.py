from django.urls import path

from negotiator.portal import views

app_name = "portal"

urlpatterns = [
    path("", views.portal_home, name="home"),
    path("<str:secret>/", views.portal_seat, name="seat"),
    path("<str:secret>/read/", views.portal_read, name="read"),
]
