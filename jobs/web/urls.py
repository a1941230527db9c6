from django.urls import path

from jobs.web import ads_views, batch_views, media_views, views

app_name = "jobs"

urlpatterns = [
    path("", views.job_list, name="list"),
    path("cache/clear", views.cache_clear, name="cache-clear"),
    path("jobs/<uuid:job_id>/", views.job_detail, name="detail"),
    path("jobs/<uuid:job_id>/status.json", views.job_status, name="status"),
    path("jobs/<uuid:job_id>/cancel", views.job_cancel, name="cancel"),
    path("jobs/<uuid:job_id>/files/<str:kind>", views.job_file, name="file"),
    path("jobs/<uuid:job_id>/slides/<int:index>.png", views.slide_image, name="slide-image"),
    path("jobs/<uuid:job_id>/media", media_views.media_from_narration, name="media-from-job"),
    path("batches/", batch_views.batch_list, name="batch-list"),
    path("batches/<uuid:batch_id>/", batch_views.batch_detail, name="batch-detail"),
    path("batches/<uuid:batch_id>/status.json", batch_views.batch_status, name="batch-status"),
    path("batches/<uuid:batch_id>/cancel", batch_views.batch_cancel, name="batch-cancel"),
    path("batches/<uuid:batch_id>/outputs.zip", batch_views.batch_archive, name="batch-archive"),
    path("media/", media_views.media_list, name="media-list"),
    path("media/<uuid:media_job_id>/", media_views.media_detail, name="media-detail"),
    path("media/<uuid:media_job_id>/status.json", media_views.media_status, name="media-status"),
    path("media/<uuid:media_job_id>/cancel", media_views.media_cancel, name="media-cancel"),
    path("media/<uuid:media_job_id>/files/<path:name>", media_views.media_file, name="media-file"),
    path("ads/", ads_views.ads_home, name="ads"),
    path("ads/campaigns/new", ads_views.campaign_create, name="ads-campaign-create"),
    path("ads/snapshots/upload", ads_views.snapshots_upload, name="ads-upload"),
    path("ads/campaigns/<uuid:campaign_id>/", ads_views.campaign_detail, name="ads-campaign"),
    path("ads/campaigns/<uuid:campaign_id>/ads/new", ads_views.ad_create, name="ads-ad-create"),
    path(
        "ads/suggestions/<uuid:suggestion_id>/decide",
        ads_views.suggestion_decide,
        name="ads-suggestion-decide",
    ),
    path("ads/winners/", ads_views.winners_page, name="ads-winners"),
    path("ads/<uuid:ad_id>/", ads_views.ad_detail, name="ads-ad"),
    path("ads/<uuid:ad_id>/refresh", ads_views.ad_refresh_creative, name="ads-ad-refresh"),
    path("ads/<uuid:ad_id>/fatigue-check", ads_views.ad_fatigue_check, name="ads-ad-fatigue"),
]
