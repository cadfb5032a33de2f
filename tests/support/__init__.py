"""Code the tests share that is not a fixture: the servers they start (a Jira-compatible one, `pir serve`),
headless-browser page visits, and the fixture databases. Tests import it as ``support.<module>``."""
