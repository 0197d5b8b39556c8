from django.contrib import admin

from negotiator.models import WorkerHeartbeat


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["hostname", "created_at", "token"]
    readonly_fields = ["hostname", "created_at", "token"]

    def has_add_permission(self, request) -> bool:
        return False
