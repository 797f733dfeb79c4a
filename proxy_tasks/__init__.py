"""proxy_tasks."""
