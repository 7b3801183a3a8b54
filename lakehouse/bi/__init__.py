"""Business intelligence: the semantic dataset layer and Superset."""
