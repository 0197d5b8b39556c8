"""Included at the site root: the agent card must live at /.well-known/."""

from django.urls import path

from negotiator.a2a import views

urlpatterns = [
    path(".well-known/agent-card.json", views.card, name="a2a_agent_card"),
    path("a2a/", views.rpc, name="a2a_rpc"),
    path("a2a/offer.schema.json", views.offer_schema, name="a2a_offer_schema"),
]
