"""Lambda entry points: a decorator stack and a few lines each."""
