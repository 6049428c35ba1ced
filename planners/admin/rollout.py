"""Admin for rollout checklists and sign-offs."""
