"""Prompts, grounded answerers and citation checking. Imports core and retrieval."""
