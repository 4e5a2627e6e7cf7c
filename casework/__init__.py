"""Casework: referrals, integration agreements, reviews and monitoring (a domain of its own)."""
