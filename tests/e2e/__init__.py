"""Browser tests: the real app in a real (headless) Chromium."""
