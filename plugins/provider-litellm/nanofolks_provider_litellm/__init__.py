"""nanofolks LLM providers through litellm. The entry module is :mod:`nanofolks_provider_litellm.plugin`."""
