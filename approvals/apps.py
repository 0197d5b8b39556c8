from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "approvals"
    verbose_name = "Approvals"

    def ready(self) -> None:
        # The negotiation side asks this gate whether an agreement needs a person.
        from approvals import checks  # noqa: F401  (registers the system checks)
        from approvals.services.gate import ApprovalsGate
        from negotiator import agreement_hooks

        agreement_hooks.gate_register(ApprovalsGate())

        # Playbook files carry the approval routes, so one file moves a whole setup.
        from approvals.route_io import routes_export, routes_write
        from negotiator.playbook_io import DocumentSection, document_section_register

        document_section_register(
            DocumentSection(key="approval_routes", export=routes_export, write=routes_write)
        )
