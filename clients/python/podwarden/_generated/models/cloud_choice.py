from enum import StrEnum


class CloudChoice(StrEnum):
    ANY = "any"
    COMMUNITY = "community"
    SECURE = "secure"

    def __str__(self) -> str:
        return str(self.value)
