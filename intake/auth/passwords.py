"""The policy a staff password chosen by a person must meet, with the reason in Chinese.

zxcvbn estimates how guessable a password is (common passwords, keyboard walks, repeats,
sequences, dates, words, the user's own name); its feedback is English, so the reason shown is
our own, picked from the weakest part it found.
"""

from __future__ import annotations

from zxcvbn import zxcvbn

# zxcvbn's work grows fast with length; past this it scores only the start (still strong).
SCORED_CHARS = 72
MAX_LENGTH = 200
HINT = "可以用三四个互不相关的词（拼音也可）加上数字或符号。"


class PasswordPolicyError(ValueError):
    """A chosen password is refused; `message` says why, in Chinese, for staff."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_password(password: str, *, username: str, display_name: str = "",
                   min_length: int = 10, min_score: int = 3,
                   guessable: tuple[str, ...] = ()) -> None:
    """Raise PasswordPolicyError unless `password` is long enough, not guessable and nameless.

    Refused: shorter than `min_length`; containing the username (names of three or more
    characters: a two-letter name turns up in strong passwords by chance); a zxcvbn score
    below `min_score` (0-4), with the reason it found. `guessable` are more words that count
    as known to an attacker (the round's places and team, in pinyin too).
    """
    if len(password) < min_length:
        raise PasswordPolicyError(f"密码至少 {min_length} 个字符。")
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(f"密码最多 {MAX_LENGTH} 个字符。")
    name = username.strip().casefold()
    if len(name) >= 3 and name in password.casefold():
        raise PasswordPolicyError("密码不能包含用户名。")
    inputs = [v for v in (username.strip(), display_name.strip(), *guessable) if v]
    result = zxcvbn(password[:SCORED_CHARS], user_inputs=inputs, max_length=SCORED_CHARS)
    if result["score"] < min_score:
        raise PasswordPolicyError(f"{_reason(result['sequence'])}{HINT}")


def _reason(sequence: list[dict]) -> str:
    """One Chinese sentence for the most telling weak part zxcvbn matched."""
    dictionaries = {match.get("dictionary_name") for match in sequence}
    if "user_inputs" in dictionaries:
        return "密码包含用户名、姓名或本轮巡察的地名、单位名，容易被猜中。"
    if "passwords" in dictionaries:
        return "这是常见密码，或只是在常见密码上稍作改动，很容易被猜中。"
    for match in sorted(sequence, key=lambda x: len(x.get("token", "")), reverse=True):
        if reason := REASONS.get(match.get("pattern", "")):
            return reason
    return "密码太短或太有规律，容易被猜中。"


REASONS = {
    "repeat": "密码由重复的字符或片段组成（如 1111、abcabc），很容易被猜中。",
    "sequence": "密码含有连续的字母或数字（如 12345、abcde），很容易被猜中。",
    "spatial": "密码是键盘上相邻的按键（如 qwerty、1qaz2wsx），很容易被猜中。",
    "date": "密码主要是日期或年份，很容易被猜中。",
    "regex": "密码主要是日期或年份，很容易被猜中。",
    "dictionary": "密码主要由常见单词或姓名组成，容易被猜中。",
}
