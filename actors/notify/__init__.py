"""The notifier: Telegram and webhook messages about what Ensemble does, and Telegram commands
that go the REST API's control path (DESIGN.md §4, "Notifications")."""
