"""Directory use cases, one module per aggregate; each takes its session and collaborators."""
