"""Project-wide test configuration: pytester for the plugin and CLI tests."""

pytest_plugins = ["pytester"]
