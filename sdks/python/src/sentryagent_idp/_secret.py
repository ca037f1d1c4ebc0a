from __future__ import annotations

import hmac


class Secret:
    """A client secret or an access token.

    ``repr``, ``str`` and f-strings show ``Secret('**********')``; ``reveal()``
    returns the value, to hand to whatever needs it.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret wraps a str")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> str:
        # Pickling would copy the value somewhere unexpected.
        raise TypeError("a Secret cannot be pickled; store secret.reveal() deliberately")


def secret_of(value: str | Secret) -> Secret:
    return value if isinstance(value, Secret) else Secret(value)
