"""The central system: what it stores, and how it answers what charge points send."""
