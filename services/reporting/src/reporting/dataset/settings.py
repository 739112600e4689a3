"""Dataset configuration: adult women per area (for MARAC volume per 10,000), from the environment,
e.g. REPORTING_ADULT_WOMEN_POPULATION='{"Torfaen": 38000, "Newport": 62000}'."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class DatasetSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTING_", extra="ignore")

    adult_women_population: dict[str, int] = {}

    def population(self) -> dict[str, int]:
        return {area.lower(): n for area, n in self.adult_women_population.items()}
