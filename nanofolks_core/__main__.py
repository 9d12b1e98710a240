from nanofolks_core.cli import run

run()
