from django.urls import path

from jobs.web import views

app_name = "jobs"

urlpatterns = [
    path("", views.job_list, name="list"),
    path("jobs/<uuid:job_id>/", views.job_detail, name="detail"),
    path("jobs/<uuid:job_id>/status.json", views.job_status, name="status"),
    path("jobs/<uuid:job_id>/cancel", views.job_cancel, name="cancel"),
    path("jobs/<uuid:job_id>/files/<str:kind>", views.job_file, name="file"),
    path("jobs/<uuid:job_id>/slides/<int:index>.png", views.slide_image, name="slide-image"),
]
