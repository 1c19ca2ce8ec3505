from enum import StrEnum


class Quantization(StrEnum):
    NONE = "none"
    VALUE_0 = "4bit"
    VALUE_1 = "8bit"

    def __str__(self) -> str:
        return str(self.value)
