"""Shared types, protocols, settings, errors and the Qdrant store facade. Imports nothing else of Kura's."""
