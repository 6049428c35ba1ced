"""Input forms for the rollout console pages; the rules themselves live in ``actions``."""

from __future__ import annotations

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone

from planners.models.rollout import ItemStatus


class MarkItemForm(forms.Form):
    status = forms.ChoiceField(choices=ItemStatus.choices)
    waiver_reason = forms.CharField(required=False, max_length=2000)
    note = forms.CharField(required=False, max_length=4000)


MAX_EVIDENCE_BYTES = 20 * 1024 * 1024


class EvidenceForm(forms.Form):
    text = forms.CharField(required=False, max_length=4000)
    link = forms.URLField(required=False, max_length=1000, assume_scheme="https")
    file = forms.FileField(required=False, max_length=200)

    def clean_file(self) -> UploadedFile | None:
        upload: UploadedFile | None = self.cleaned_data.get("file")
        if upload is not None and (upload.size or 0) > MAX_EVIDENCE_BYTES:
            raise forms.ValidationError("Evidence files are limited to 20 MB.")
        return upload


class SignOffForm(forms.Form):
    deployment_date = forms.DateField(initial=timezone.localdate)
    note = forms.CharField(required=False, max_length=4000)


def first_error(form: forms.Form) -> str:
    """One readable line for a notice: ``field: message``."""
    for field, errors in form.errors.items():
        label = "" if field == "__all__" else f"{field.replace('_', ' ')}: "
        return f"{label}{errors[0]}"
    return "Invalid input."


class StepNotesForm(forms.Form):
    files_touched = forms.CharField(required=False, max_length=10000)
    follow_ups = forms.CharField(required=False, max_length=10000)
