"""Amazon Connect emulator (development tool; not shipped to Lambda)."""
