from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from negotiator import site_pages, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", site_pages.favicon, name="favicon"),
    path("negotiations/", views.negotiation_list, name="negotiation_list"),
    path("negotiations.csv", views.negotiation_list_export, name="negotiation_list_export"),
    path("negotiations/new/", views.negotiation_new, name="negotiation_new"),
    path("negotiations/<int:pk>/", views.negotiation_detail, name="negotiation_detail"),
    path("negotiations/<int:pk>/timeline", views.negotiation_timeline, name="negotiation_timeline"),
    path("negotiations/<int:pk>/chart", views.negotiation_chart, name="negotiation_chart"),
    path("negotiations/<int:pk>/compare/", views.negotiation_compare, name="negotiation_compare"),
    path("negotiations/<int:pk>/resume/", views.negotiation_resume, name="negotiation_resume"),
    path("negotiations/<int:pk>/close/", views.negotiation_close, name="negotiation_close"),
    path("negotiations/<int:pk>/accept/", views.negotiation_accept, name="negotiation_accept"),
    path("negotiations/<int:pk>/counter/", views.negotiation_counter, name="negotiation_counter"),
    path(
        "negotiations/<int:pk>/overrides/",
        views.negotiation_override_request,
        name="negotiation_override_request",
    ),
    path(
        "negotiations/<int:pk>/overrides/decide/",
        views.negotiation_override_decide,
        name="negotiation_override_decide",
    ),
    path("negotiations/<int:pk>/plan.json", views.negotiation_plan, name="negotiation_plan"),
    path("negotiations/<int:pk>/plan.csv", views.negotiation_plan_csv, name="negotiation_plan_csv"),
    path(
        "negotiations/<int:pk>/seats/issue/",
        views.seat_credential_issue,
        name="seat_credential_issue",
    ),
    path(
        "negotiations/<int:pk>/seats/revoke/",
        views.seat_credential_revoke,
        name="seat_credential_revoke",
    ),
    path("negotiations/<int:pk>/audit/", views.negotiation_audit, name="negotiation_audit"),
    path(
        "negotiations/<int:pk>/audit/checkpoint.json",
        views.negotiation_audit_checkpoint,
        name="negotiation_audit_checkpoint",
    ),
    path(
        "negotiations/<int:pk>/audit.<str:fmt>",
        views.negotiation_audit_export,
        name="negotiation_audit_export",
    ),
    path("audit/", views.audit_status, name="audit_status"),
    path("audit/<str:what>", views.audit_checkpoint_download, name="audit_checkpoint_download"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("approvals/", include("approvals.urls")),
    path("outcomes/", include("analytics.urls")),
    path("api/", include("api.urls")),
    path("tenders/", include("tenders.urls")),
    path("portal/", include("negotiator.portal.urls")),
    path("llm/", include("negotiator.llm.urls")),
    path("", include("negotiator.a2a.urls")),  # A2A: /.well-known/agent-card.json, /a2a/
]
