from django.urls import path

from tenders import bid_views, views

app_name = "tenders"

urlpatterns = [
    path("", views.tender_list, name="list"),
    path("new/", views.tender_new, name="new"),
    path("<int:pk>/", views.tender_detail, name="detail"),
    path("<int:pk>/final/", views.tender_final, name="final"),
    path(
        "<int:pk>/bidders/<int:bidder_id>/credential/",
        views.tender_credential_new,
        name="credential_new",
    ),
    path(
        "<int:pk>/credentials/<int:credential_id>/revoke/",
        views.tender_credential_revoke,
        name="credential_revoke",
    ),
    path("bid/<str:secret>/", bid_views.bid_page, name="bid"),
]
