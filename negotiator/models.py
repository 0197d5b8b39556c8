from django.db import models


class WorkerHeartbeat(models.Model):
    """One row a worker writes each time it runs the heartbeat task.

    /healthz reads the newest to tell whether any worker is alive; the row
    proves the whole path web -> broker -> worker -> database works.
    """

    token = models.CharField(max_length=64, blank=True)
    hostname = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.hostname} at {self.created_at:%Y-%m-%d %H:%M:%S}"
