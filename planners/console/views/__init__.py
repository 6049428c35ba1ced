"""The console's views, one module per area: the dashboard and its cards, alerts, the backlog's
actions, plans and transcripts.

A request gets a fragment only when HTMX asked for it and did not boost it (NetBox's rule);
everything else gets a whole page, so every link and form works without JavaScript. Actions
answer HTMX with the updated card plus out-of-band counters, and everyone else with a redirect
to the full page (post/redirect/get).
"""
