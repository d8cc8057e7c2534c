"""What every entry point shares: settings, secrets, logging, HTTP helpers."""
