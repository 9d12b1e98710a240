"""The nanofolks skill scanner: bandit plus checks bandit lacks, rating skills before they load."""
