"""Small text utilities."""


def word_count(text: str) -> int:
    """Number of whitespace-separated words in ``text``."""
    return len(text.split())


def initials(name: str) -> str:
    """Upper-case initials of a name: ``initials("ada lovelace") == "AL"``."""
    return "".join(part[0].upper() for part in name.split())
