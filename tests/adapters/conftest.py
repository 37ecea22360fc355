"""The four stand-ins of ``tests/conftest.py`` and ``tests/social_insurance/conftest.py``."""

from tests.social_insurance.conftest import social_insurance_standin as social_insurance_standin
