"""Use cases: verbs that orchestrate the ports. Entry points (HTTP, tasks, CLI) call these."""
