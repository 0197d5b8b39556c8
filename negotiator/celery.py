"""Celery application, configured from Django settings (the CELERY_ namespace)."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "negotiator.settings")

app = Celery("negotiator")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def close_old_database_connections(**kwargs) -> None:
    """Drop connections that failed or outlived CONN_MAX_AGE, as Django does
    around each request (CELERY_DB_REUSE_MAX keeps the healthy ones)."""
    task = kwargs.get("task")
    if task is not None and task.request.is_eager:
        return
    from django.db import close_old_connections

    close_old_connections()
