from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from cognition.health_views import healthz, healthz_workers

# The admin names the product it belongs to, not Django.
admin.site.site_header = "Planner Ops Console administration"
admin.site.site_title = "Planner Ops Console admin"
admin.site.index_title = "Records behind the console"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("healthz/workers", healthz_workers, name="healthz-workers"),
    path("admin/", admin.site.urls),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(template_name="registration/login.html"),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("opsalerts.urls")),
    path("", include("planners.urls")),
]
