"""Preferred-user rules: the file format (``model``), loading and validation (``loader``) and the pure
first-match evaluation against a contact (``matcher``)."""
