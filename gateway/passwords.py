"""Which passwords a gateway account may have (NIST SP 800-63B §5.1.1.2).

A new password is refused when it is shorter than 8 characters, contains the
user name, appears in a list of passwords leaked in breaches, or is otherwise
easy to guess (a dictionary word, a name, a keyboard walk, a sequence, a
repetition, a date). There are no composition rules ("one digit, one symbol"):
the standard advises against them.

The list and the estimate come from ``zxcvbn``, the Python port of Dropbox's
estimator: it is kept up on PyPI, works offline (this gateway may reach no
breach API), ships a list of 30,000 passwords ranked by how often they were
found in leaked password dumps, and scores everything else by the patterns an
attacker tries first, with the user name as a word to look for. Django's
zxcvbn validator uses the same library with the same minimum score.

Every refusal has a stable code and a message in Chinese and English; none of
them repeats the password.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

#: Shortest password accepted (SP 800-63B: at least 8).
MIN_PASSWORD_LENGTH = 8
#: zxcvbn's score from 0 to 4; 2 means about 10^8 guesses are needed, beyond an
#: online attack under the login throttle and a slow offline one against Argon2id.
MIN_SCORE = 2
#: zxcvbn refuses longer input: its pattern search grows with the square of the
#: length. A longer password is judged by its beginning: one whose first 72
#: characters are hard to guess is hard to guess.
_MAX_ESTIMATED = 72
#: Shorter user names are left out of the "contains the user name" rule, or a
#: one-letter name would forbid that letter.
_MIN_NAME_IN_PASSWORD = 3


@dataclass(frozen=True, slots=True)
class PasswordRefusal:
    """Why a password is refused: a stable code and two messages."""

    code: str
    message_en: str
    message_zh: str


TOO_SHORT = PasswordRefusal(
    "PASSWORD_TOO_SHORT",
    f"A password has at least {MIN_PASSWORD_LENGTH} characters.",
    f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符。",
)
CONTAINS_USERNAME = PasswordRefusal(
    "PASSWORD_CONTAINS_USERNAME",
    "A password may not contain the user name.",
    "密码不能包含用户名。",
)
BREACHED = PasswordRefusal(
    "PASSWORD_BREACHED",
    "This password appears in lists of passwords leaked in breaches: choose another.",
    "该密码出现在已泄露的密码列表中，请另选密码。",
)
GUESSABLE = PasswordRefusal(
    "PASSWORD_TOO_COMMON",
    "This password is too easy to guess (a common word, name, keyboard pattern, "
    "sequence, repetition or date): choose a longer or less common one.",
    "该密码过于常见、容易被猜中（常用词、姓名、键盘序列、连续或重复字符、日期），"
    "请使用更长或更不常见的密码。",
)


def password_refusal(password: str, username: str) -> PasswordRefusal | None:
    """Why ``password`` may not be ``username``'s; None when it may."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return TOO_SHORT
    folded, name = password.casefold(), username.strip().casefold()
    if len(name) >= _MIN_NAME_IN_PASSWORD and name in folded:
        return CONTAINS_USERNAME
    if folded in _breached():
        return BREACHED
    # A few milliseconds: cheap beside the Argon2id hash that follows. zxcvbn
    # and its lists are loaded on the first password judged (about 40 ms of
    # CPU), not by every process that opens a store (a worker judges none).
    from zxcvbn import zxcvbn

    estimate = zxcvbn(password[:_MAX_ESTIMATED], user_inputs=[name] if name else None)
    if estimate["score"] < MIN_SCORE:
        return GUESSABLE
    return None


@lru_cache(maxsize=1)
def _breached() -> frozenset[str]:
    # The list is lower case, as are most passwords found in dumps; comparing
    # case-folded also refuses "PassWord1".
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])
