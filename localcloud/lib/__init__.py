"""Pure helpers: no cloud, no service, no kernel."""
