"""Local-only platform pieces (emulators, fakes, launchers); never deployed."""
