"""The prompt template's change form: its text is checked against the planner step it drives."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from cognition.actions import validate_template_text
from cognition.models import PromptTemplate
from cognition.templating import TemplateError, find_variables
from planners.framework.catalog import catalog
from planners.framework.metadata import PlannerStep


def planner_step_for(template_name: str) -> tuple[str, PlannerStep] | None:
    """(planner name, step) driven by the template, or None for a template no planner uses."""
    found = catalog.step_for_template(template_name)
    if found is None:
        return None
    planner, step = found
    return planner.metadata.name, step


def _fmt(names: list[str]) -> str:
    return ", ".join("{{" + name + "}}" for name in names)


class PromptTemplateForm(forms.ModelForm):
    """The template's own fields plus its text: a changed text becomes a new active version."""

    text = forms.CharField(
        strip=False,
        widget=forms.Textarea(attrs={"rows": 24, "cols": 110, "class": "vLargeTextField"}),
        help_text="Saving a changed text adds a new version and makes it active. "
        "Placeholders look like {{projectTitle}}.",
    )
    note = forms.CharField(
        max_length=500,
        required=False,
        help_text="Why this change (kept with the version).",
    )
    confirm = forms.BooleanField(
        required=False,
        label="Save anyway",
        help_text="Tick to save an edit that removes variables the planner step needs.",
    )

    class Meta:
        model = PromptTemplate
        fields = ["name", "description", "is_active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.current_text: str | None = None
        if self.instance.pk and self.instance.active_version is not None:
            self.current_text = self.instance.active_version.text
            self.fields["text"].initial = self.current_text
        self.text_changed = False
        self.removal_warning = ""

    def _template_name(self) -> str:
        return self.instance.name if self.instance.pk else self.cleaned_data.get("name", "")

    def clean_text(self) -> str:
        # Browsers submit textarea line breaks as CRLF; store what the author sees.
        text: str = self.cleaned_data["text"].replace("\r\n", "\n")
        if "\ufffd" in text:
            raise ValidationError(
                "The text contains U+FFFD replacement characters: the submitted text was not "
                "valid UTF-8. Paste it again from the original source.",
                code="not_utf8",
            )
        try:
            variables = validate_template_text(text)
        except TemplateError as exc:
            raise ValidationError(str(exc).capitalize() + ".", code="invalid_text") from None
        found = planner_step_for(self._template_name())
        if found is not None:
            planner_name, step = found
            unknown = [v for v in variables if v not in step.variables]
            if unknown:
                raise ValidationError(
                    "Unknown placeholder(s) %(unknown)s: the %(planner)s step %(step)s provides "
                    "only %(known)s.",
                    code="unknown_placeholder",
                    params={
                        "unknown": _fmt(unknown),
                        "planner": planner_name,
                        "step": step.id,
                        "known": _fmt(list(step.variables)) or "no variables",
                    },
                )
        return text

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        text = cleaned.get("text")
        if text is None:
            return cleaned
        self.text_changed = text != self.current_text
        if not self.text_changed or self.current_text is None:
            return cleaned
        found = planner_step_for(self._template_name())
        if found is None:
            return cleaned
        planner_name, step = found
        kept = set(find_variables(text))
        removed = [
            v for v in find_variables(self.current_text) if v in step.variables and v not in kept
        ]
        if removed and not cleaned.get("confirm"):
            self.removal_warning = (
                f"This edit removes {_fmt(removed)}, which the {planner_name} step {step.id} "
                "fills in; the prompt will no longer contain it."
            )
            self.add_error(
                "confirm",
                ValidationError(
                    "%(warning)s Tick “Save anyway” to save it regardless.",
                    code="removes_variable",
                    params={"warning": self.removal_warning},
                ),
            )
        return cleaned
