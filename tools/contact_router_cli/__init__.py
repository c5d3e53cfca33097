"""Command-line tool for contact-router (development tool; not shipped to Lambda)."""
