"""The pure domain: models, rules and algorithms. Imports no infrastructure library."""
