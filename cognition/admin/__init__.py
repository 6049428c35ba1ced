"""Admin registrations for prompt templates and the agent's bookkeeping, one module per area.

Template versions are immutable: editing a template's text adds a version and activates it,
rolling back moves the active pointer, and nobody can change or delete a stored version. Every
write goes through ``cognition.actions`` so the admin, the seeder and commands behave the same.
"""

from cognition.admin import (  # noqa: F401
    api_tokens,
    process_heartbeats,
    prompt_templates,
    provider_limits,
    template_versions,
)
