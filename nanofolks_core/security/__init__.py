"""Keeping credentials away from models, history and logs.

* :mod:`~nanofolks_core.security.patterns` / :mod:`~nanofolks_core.security.checks`: the built-in
  credential formats, each with the check that keeps ordinary text untouched;
* :mod:`~nanofolks_core.security.detect`: :class:`CredentialDetector` over the registered patterns;
* :mod:`~nanofolks_core.security.references`: a detected credential goes to the secret store and
  the text keeps ``{{name}}``; tools get the value only when they run;
* :mod:`~nanofolks_core.security.audit`: which tool used which reference, when (never a value).
"""
