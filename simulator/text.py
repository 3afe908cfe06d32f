"""Pseudo-text: the pieces that answers and reasoning are made of, from a message's words."""

from __future__ import annotations

import random
import re
import string
from typing import Any

# A test hook in the text of a message: [[sim:name]] or [[sim:name=value]].
HOOK = re.compile(r"\[\[sim:([a-z-]+)(?:=([^\]]*))?\]\]")

# A token is one word-ish piece with its leading space.
# Sentences are an opener, a subject, a predicate and sometimes a tail about the user's words.
_ANSWER = {
    "openers": ["", "", "", "In practice,", "Usually,", "First,", "Then", "Finally,", "Of course,"],
    "subjects": [
        "the answer", "each token", "a short example", "the model", "a lower temperature",
        "the context window", "the server", "this approach", "a simple test", "the first step",
    ],
    "predicates": [
        "arrives as soon as it is sampled", "helps explain the idea", "is usually good enough",
        "makes the output more predictable", "holds the prompt and the reply together",
        "batches many requests at once", "works well in most cases", "needs a little attention",
        "depends on the length of the prompt", "adds up over time", "is worth checking carefully",
        "shows progress while the rest is still being written", "keeps the page responsive",
    ],
    "tails": ["", "", "", " for {}", " when it comes to {}", " with {} in mind", " around {}"],
}  # fmt: skip
_THINKING = {
    "openers": ["", "", "Hmm,", "Wait,", "So", "Actually,", "Then"],
    "subjects": ["I", "maybe I", "I think I", "first I"],
    "predicates": [
        "should check what they mean", "need to look at this more closely",
        "could start from the basics", "might be overcomplicating this",
        "can give a short example", "should keep the answer brief",
        "want to explain it clearly", "can assume they know the basics",
    ],
    "tails": ["", "", " about {}", " regarding {}"],
}  # fmt: skip
_STOPWORDS = set(
    """about above after again also and any are because been before being below between both but can
    could did does doing down during each few for from further had has have having her here hers him
    his how into its itself just more most not now off once only other our out over own same she
    should some such than that the their them then there these they this those through too under
    until very was were what when where which while who whom why will with would you your yours
    please tell give show write explain""".split()  # noqa: SIM905 (reads better as prose)
)
ALNUM = string.ascii_letters + string.digits
FALLBACK_WORDS = ["answer", "token", "model", "example", "value", "result"]


class Pieces:
    """Builds the token list; words get a leading space unless they start a line."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.fresh = True

    def word(self, word: str) -> None:
        self.pieces.append(word if self.fresh else " " + word)
        self.fresh = False

    def raw(self, piece: str) -> None:
        self.pieces.append(piece)
        self.fresh = piece.endswith("\n")

    def sentence(self, rng: random.Random, topic: list[str], parts: dict[str, list[str]]) -> None:
        words = f"{rng.choice(parts['openers'])} {rng.choice(parts['subjects'])}".split()
        predicate = rng.choice(parts["predicates"]).split()
        if rng.random() < 0.15:
            i = max(range(len(predicate)), key=lambda k: len(predicate[k]))
            predicate[i] = f"**{predicate[i]}**"
        words += predicate
        tail = rng.choice(parts["tails"])
        if topic and tail:
            words += tail.format(rng.choice(topic)).split()
        words[0] = words[0][0].upper() + words[0][1:]
        words[-1] += "."
        for word in words:
            self.word(word)


def topic_words(text: str) -> list[str]:
    words = []
    for word in re.findall(r"[A-Za-z][A-Za-z'-]{2,}", text):
        lowered = word.lower().strip("'-")
        if len(lowered) > 2 and lowered not in _STOPWORDS and lowered not in words:
            words.append(lowered)
    return words[:12]


def answer_pieces(rng: random.Random, topic: list[str], *, code: bool, target: int) -> list[str]:
    out = Pieces()
    out.sentence(rng, topic, _ANSWER)
    if code:
        name = re.sub(r"\W", "_", topic[0] if topic else "answer")
        for piece in ("\n\n", "```", "python", "\n", "def", f" {name}", "(", "text", "):", "\n   ",
                      " words", " =", " text", ".split", "()", "\n   ", " return", " len", "(",
                      "words", ")", "\n", "```", "\n\n"):  # fmt: skip
            out.raw(piece)
    if rng.random() < 0.35:
        out.raw("\n\n")
        for _ in range(3):
            out.raw("-")
            item = rng.choice(_ANSWER["predicates"]).split()
            item[0] = item[0].capitalize()
            for word in item:
                out.word(word)
            out.raw("\n")
        out.raw("\n")
    while len(out.pieces) < target:
        if not out.fresh and rng.random() < (0.25 if target > 200 else 0.12):
            out.raw("\n\n")
        out.sentence(rng, topic, _ANSWER)
    return out.pieces


def reasoning_pieces(rng: random.Random, topic: list[str]) -> list[str]:
    out = Pieces()
    opening = "Okay, the user is asking about " + " and ".join(topic[:2] or ["something"]) + "."
    for word in opening.split():
        out.word(word)
    target = rng.randint(18, 32)
    while len(out.pieces) < target:
        out.sentence(rng, topic, _THINKING)
    return out.pieces


def json_pieces(text: str) -> list[str]:
    return re.findall(r"\s*\w+|\s*[^\w\s]+|\s+", text)


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""
