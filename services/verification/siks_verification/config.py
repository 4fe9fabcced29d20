from siks_kit.runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    port: int = 8002
    mongo_db: str = "siks_verification"
    # Programme rules (deploy/rules/programs.json); the built-in default is the same data.
    program_rules_file: str | None = None
    # The person who verified a case may not validate it; who validated may not approve it.
    separation_of_duties: bool = True
