"""Small data files shipped with thermochip (see README.md in this folder for provenance)."""
