from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from jobs.admin import oversight
from jobs.api.urls import api
from jobs.web import health, metrics

urlpatterns = [
    path("admin/oversight/", oversight.oversight_dashboard, name="oversight-dashboard"),
    path(
        "admin/oversight/queues/<str:queue_name>/pause",
        oversight.queue_pause,
        name="oversight-queue-pause",
    ),
    path(
        "admin/oversight/queues/<str:queue_name>/resume",
        oversight.queue_resume,
        name="oversight-queue-resume",
    ),
    path(
        "admin/oversight/periodic/<str:task_name>/run",
        oversight.periodic_run_now,
        name="oversight-periodic-run",
    ),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("health/queues", health.queues, name="health-queues"),
    path("health/workers", health.workers, name="health-workers"),
    path("metrics", metrics.metrics, name="metrics"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("jobs.web.urls")),
]
