"""ruledex: a cross-vendor catalog of security detection rules tied to MITRE ATT&CK."""

__version__ = "0.1.0"
